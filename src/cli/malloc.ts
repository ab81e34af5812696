/**
 * glibc malloc settings for the server process.
 *
 * glibc raises its mmap threshold each time a large block is freed, so after an onnxruntime session has loaded
 * (the parsed protobuf and the copies made while optimising the graph are freed in big pieces), those pieces stay
 * in the malloc heap of the worker's thread arena instead of going back to the kernel: about 100 MB of RSS per
 * worker for a 47 MB ResNet-18. A fixed threshold (which turns the dynamic one off) returns them; transparent huge
 * pages for malloc's own mappings keep the cost of mapping activations afresh on every run small. glibc reads
 * these settings only when a process starts, so the server is started with them in its environment: by `--start`
 * directly, and by `--foreground` through a relaunch (the `modelserver` command then waits for its server, as
 * TorchServe's launcher waits for its JVM). Settings the user put in GLIBC_TUNABLES win; MODELSERVER_MALLOC_TUNING=0
 * turns all of this off.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';

export const MALLOC_TUNABLES: Readonly<Record<string, string>> = {
  'glibc.malloc.mmap_threshold': '131072',
  'glibc.malloc.trim_threshold': '131072',
  'glibc.malloc.hugetlb': '1',
};

/** Set in the environment of a server started by the launcher; it stops at once when the launcher goes away. */
export const LAUNCHED_ENV = 'MODELSERVER_LAUNCHED';

function parseTunables(value: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (value ?? '').split(':')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

/** GLIBC_TUNABLES with our malloc settings added; any key the user set already keeps the user's value. */
export function tunedGlibcTunables(current: string | undefined): string {
  const merged = new Map(Object.entries(MALLOC_TUNABLES));
  for (const [k, v] of parseTunables(current)) merged.set(k, v);
  return [...merged].map(([k, v]) => `${k}=${v}`).join(':');
}

function hasGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return Boolean(header?.glibcVersionRuntime);
}

let glibc: boolean | undefined;

/** The environment a server process should start with: `env` plus the malloc settings where they apply. */
export function serverEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.MODELSERVER_MALLOC_TUNING === '0' || !(glibc ??= hasGlibc())) return env;
  return { ...env, GLIBC_TUNABLES: tunedGlibcTunables(env.GLIBC_TUNABLES) };
}

/** True when this process would run with other malloc settings than a server should have. */
export function needsRelaunch(env: NodeJS.ProcessEnv): boolean {
  return serverEnv(env).GLIBC_TUNABLES !== env.GLIBC_TUNABLES;
}

/**
 * Runs `script args` again in a child with the server's environment and waits for it: signals are passed on (the
 * child is in its own process group, so a Ctrl-C reaches it once, through here), its exit code is returned, and
 * an IPC channel lets the child notice at once if this launcher is killed.
 */
export function relaunch(script: string, args: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...serverEnv(process.env), [LAUNCHED_ENV]: '1' },
    detached: true,
  });
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  const pass = (sig: NodeJS.Signals) => child.kill(sig);
  for (const sig of signals) process.on(sig, pass);
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`error: could not start the server process: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      for (const sig of signals) process.off(sig, pass);
      resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
    });
  });
}

/** In a server started by `relaunch`: calls `onOrphaned` when the launcher's IPC channel closes. */
export function watchLauncher(onOrphaned: () => void): void {
  if (process.env[LAUNCHED_ENV] !== '1' || !process.channel) return;
  process.channel.unref();
  process.once('disconnect', onOrphaned);
}
