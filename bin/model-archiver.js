#!/usr/bin/env node
// Runs the built CLI (npm install builds dist/ through the "prepare" script).
import { main } from '../dist/src/cli/model-archiver.js';

process.exit(await main(process.argv.slice(2)));
