/**
 * The server under soak: `node bin/modelserver.js --foreground --ncs` in a child process, configured by the
 * benchmark's writeServerConfig (loopback, port 0) and found through its pid file, like the benchmark's
 * startModelServer. Unlike that one, this keeps the child so the soak can check how it exits on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, healthyServer, writeServerConfig, type ModelServerOptions } from '../bench/processes.ts';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopResult extends Exit {
  /** From SIGTERM to exit. */
  ms: number;
  /** It did not exit within the grace time and was killed. */
  killed: boolean;
}

export interface SoakServer {
  pid: number;
  url: string;
  metrics: string;
  logFile: string;
  /** Resolves when the process exits, for whatever reason. */
  exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`; later calls return the first call's result. */
  stop(graceMs: number): Promise<StopResult>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

async function stopChild(child: ChildProcess, exited: Promise<Exit>, graceMs: number): Promise<StopResult> {
  const t0 = performance.now();
  let killed = false;
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, graceMs);
  const exit = await exited;
  clearTimeout(timer);
  return { ...exit, ms: performance.now() - t0, killed };
}

/** The last lines of the server log, leaving out the access log (one line per request, rarely the story). */
export function logTail(file: string, lines = 12): string {
  try {
    const all = fs.readFileSync(file, 'utf8').trim().split('\n');
    return all.filter((l) => !l.includes('"component":"access"')).slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts the server and resolves once /ping answers Healthy (all models loaded). */
export async function startSoakServer(o: ModelServerOptions, timeoutMs = 120_000): Promise<SoakServer> {
  const config = writeServerConfig(o);
  const pidFile = path.join(o.dir, 'modelserver.pid');
  const logFile = path.join(o.dir, 'modelserver.log');
  const log = fs.openSync(logFile, 'a');
  fs.rmSync(pidFile, { force: true });
  const args = [CLI, '--foreground', '--ncs', '--ts-config', config, '--pid-file', pidFile];
  // Its own process group: a Ctrl-C in the terminal reaches the soak only, which then stops the server itself.
  const child = spawn(process.execPath, args, { cwd: o.dir, stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  const exited = exitOf(child);
  // One SIGTERM only: the server handles the first; a second would find no handler and kill it.
  let stopping: Promise<StopResult> | undefined;
  const stop = (graceMs: number) => (stopping ??= stopChild(child, exited, graceMs));
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited (code ${child.exitCode}, signal ${child.signalCode})`);
      // stop() signals the command, which passes the signal on to the server.
      const info = await healthyServer(pidFile);
      if (info) {
        return {
          pid: info.pid,
          url: info.inference,
          metrics: info.metrics,
          logFile,
          exited,
          stop,
        };
      }
      await sleep(25);
    }
    throw new Error(`the server was not Healthy within ${timeoutMs} ms`);
  } catch (err) {
    await stop(10_000);
    throw new Error(`${(err as Error).message}; log ${logFile}:\n${logTail(logFile, 5)}`);
  }
}
