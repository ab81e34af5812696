/**
 * What `modelserver --start` says when models named at start did not load: each model with its reason on the
 * console (not only in the log), then, with strict_readiness (the default), the server it started is stopped and
 * the exit code is 1; with strict_readiness=false the server keeps serving what loaded and the exit code is 2.
 */
import fs from 'node:fs';
import type { Address } from '../config/config.ts';
import type { PidInfo } from './pidfile.ts';

export function formatAddress(a: Address): string {
  return `${a.scheme}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

interface Started {
  pid: number;
  logFile: string;
  /** True once the server process has exited. */
  exited: () => boolean;
  started: PidInfo;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function reportStartupFailures(failed: NonNullable<PidInfo['failed']>, strict: boolean, s: Started): Promise<number> {
  const lines = failed.map((f) => `  ${f.model} (${f.url}): ${f.error}`);
  process.stderr.write(`error: ${failed.length === 1 ? 'a model' : `${failed.length} models`} named at start did not load:\n${lines.join('\n')}\n`);
  if (failed.some((f) => f.fromSnapshot)) {
    process.stderr.write(
      'those came from the last snapshot (the models registered before): put the archive back, or choose the models ' +
        'with --models (and --ncs to keep the snapshot as it is)\n',
    );
  }
  if (strict) {
    process.kill(s.pid, 'SIGTERM');
    while (!s.exited()) await sleep(20);
    process.stderr.write(
      `the server was stopped (strict_readiness=true). Fix the model, or start without it; ` +
        `strict_readiness=false serves the models that did load. Full log: ${s.logFile}\n`,
    );
    return 1;
  }
  process.stdout.write(
    `modelserver started without them (pid ${s.pid}, strict_readiness=false): inference ${s.started.inference}, ` +
      `management ${s.started.management}, metrics ${s.started.metrics}\n`,
  );
  return 2;
}

/** The text of a file from a byte offset on (a failed start's log lines: this run's only). */
export function readFrom(file: string, offset: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    fs.readSync(fd, buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}
