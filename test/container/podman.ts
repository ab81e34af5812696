/**
 * Helpers for `npm run test:container`: podman commands with their timings, free loopback ports, waiting for
 * an HTTP answer. Everything started is named `ms-ctest-<pid>-...` so that cleanup finds exactly what this run
 * made.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const exec = promisify(execFile);
export const RUN_ID = `ms-ctest-${process.pid}`;
export const IMAGE = process.env.MS_IMAGE ?? 'localhost/modelserver:dev';

/** Timings of the steps, printed at the end. */
export const timings: Array<[string, number]> = [];

export async function timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    const s = (performance.now() - t0) / 1000;
    timings.push([step, s]);
    console.log(`      [${s.toFixed(2)} s] ${step}`);
  }
}

/** Runs a command; resolves with stdout, rejects with stderr in the message. */
export async function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env, cwd: opts.cwd });
    return stdout;
  } catch (err) {
    const e = err as { code?: number; stderr?: string; stdout?: string };
    throw new Error(`${cmd} ${args.join(' ')} exited ${e.code}: ${(e.stderr || e.stdout || '').trim().slice(-2000)}`);
  }
}

/** Exit code of a command (0 on success), without throwing. */
export async function code(cmd: string, args: string[]): Promise<number> {
  return exec(cmd, args).then(() => 0, (e: { code?: number }) => (typeof e.code === 'number' ? e.code : 1));
}

export const podman = (...args: string[]) => sh('podman', args);

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** Polls `url` until it answers with `status` (default 200); rejects after `timeoutMs`. */
export async function waitFor(url: string, timeoutMs = 90_000, status = 200): Promise<Response> {
  const end = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < end) {
    const res = await fetch(url).catch((e: Error) => e);
    if (res instanceof Response) {
      if (res.status === status) return res;
      last = `${res.status} ${await res.text()}`;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs / 1000} s (last: ${last})`);
}

/** The key file's inference key, read inside the container as the README says. */
export async function inferenceKey(container: string): Promise<string> {
  const text = await podman('exec', container, 'cat', '/var/lib/modelserver/key_file.json');
  return (JSON.parse(text) as { inference: { key: string } }).inference.key;
}

// A root hook: after every container test file has run, the timings of all their steps.
after(() => {
  console.log('\n  timings:');
  for (const [step, s] of timings) console.log(`    ${s.toFixed(2).padStart(7)} s  ${step}`);
});
