/**
 * A real `modelserver` process, started as a user starts it (`--start` with its own pid file, ports 0), for
 * tests that need signals or a process of its own. `kill()` ends it if a test left it running.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestStore } from './server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MODELSERVER = path.join(ROOT, 'bin', 'modelserver.js');

export interface ServerProcess {
  pid: number;
  inference: string;
  management: string;
  pidFile: string;
  /** Waits until the process is gone (a zombie counts as gone). */
  exited(): Promise<void>;
  /** SIGKILL if it still runs (cleanup after a failed test). */
  kill(): void;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Starts `modelserver --start` on the store with `models` (`name=file.mar`) and extra config.properties lines. */
export async function startServerProcess(store: TestStore, dir: string, models: string[], props: Record<string, string> = {}): Promise<ServerProcess> {
  const config = {
    inference_address: 'http://127.0.0.1:0',
    management_address: 'http://127.0.0.1:0',
    metrics_address: 'http://127.0.0.1:0',
    default_workers_per_model: '1',
    ...props,
  };
  await fs.writeFile(path.join(dir, 'config.properties'), Object.entries(config).map(([k, v]) => `${k}=${v}\n`).join(''));
  const pidFile = path.join(dir, 'ms.pid');
  await run(
    process.execPath,
    [MODELSERVER, '--start', '--ts-config', 'config.properties', '--model-store', store.dir, '--models', ...models,
      '--pid-file', pidFile, '--log-file', path.join(dir, 'ms.log'), '--ncs'],
    { cwd: dir },
  );
  const info = JSON.parse(await fs.readFile(pidFile, 'utf8')) as { pid: number; inference: string; management: string };
  return {
    ...info,
    pidFile,
    exited: async () => {
      while (alive(info.pid)) await new Promise((r) => setTimeout(r, 20));
    },
    kill: () => {
      if (alive(info.pid)) process.kill(info.pid, 'SIGKILL');
    },
  };
}
