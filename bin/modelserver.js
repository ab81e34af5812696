#!/usr/bin/env node
// Runs the built CLI (npm install builds dist/ through the "prepare" script).
import { main } from '../dist/src/cli/modelserver.js';

process.exit(await main(process.argv.slice(2), { relaunch: true }));
