/**
 * Child processes under test: the modelserver CLI (`bin/modelserver.js --foreground`, addresses read from its pid
 * file) and the baselines (which print `LISTENING <url>`). Each runs apart from the load generator's event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from scripts/bench (tsx) or dist/scripts/bench (built). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', ...(import.meta.url.includes('/dist/') ? ['..'] : []));
export const CLI = path.join(ROOT, 'bin', 'modelserver.js');
export const HANDWRITTEN = path.join(ROOT, 'scripts', 'bench', 'baselines', 'handwritten-server.mjs');
export const BARE_KOA = path.join(ROOT, 'scripts', 'bench', 'baselines', 'bare-koa.mjs');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Running {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
async function terminate(child: ChildProcess, graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** Starts `node script ...args` and waits for it to print `LISTENING <url>`. */
export function startBaseline(script: string, args: string[] = [], timeoutMs = 60_000): Promise<Running> {
  const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void terminate(child);
      reject(new Error(`${path.basename(script)} did not listen within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /LISTENING (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ pid: child.pid!, url: m[1], stop: () => terminate(child) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(script)} exited with code ${code}: ${err.trim()}`));
    });
  });
}

export interface ModelServerOptions {
  /** A fresh folder for this server's config, pid file and log. */
  dir: string;
  store: string;
  archives: string[];
  workers: number;
  /** Intra-op threads per worker; 0 lets the server derive them from cores and workers. */
  intraOpThreads?: number;
  /** A Triton model repository served beside the archives (all its models). */
  repository?: string;
  /** More config.properties lines (key → value), e.g. the overload row's job_queue_size and max_connections. */
  extra?: Record<string, string>;
}

export interface ModelServer extends Running {
  management: string;
  metrics: string;
  /** host:port of the gRPC inference listener. */
  grpcInference?: string;
  logFile: string;
}

export function writeServerConfig(o: ModelServerOptions): string {
  fs.mkdirSync(o.dir, { recursive: true });
  const file = path.join(o.dir, 'config.properties');
  const lines = [
    'inference_address=http://127.0.0.1:0',
    'management_address=http://127.0.0.1:0',
    'metrics_address=http://127.0.0.1:0',
    'grpc_inference_port=0',
    'grpc_management_port=0',
    `model_store=${o.store}`,
    `load_models=${o.archives.join(',')}`,
    `default_workers_per_model=${o.workers}`,
    ...(o.intraOpThreads ? [`intra_op_threads=${o.intraOpThreads}`] : []),
    ...(o.repository ? [`model_repository=${o.repository}`] : []),
    ...Object.entries(o.extra ?? {}).map(([k, v]) => `${k}=${v}`),
  ];
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export async function pingHealthy(url: string): Promise<boolean> {
  const res = await fetch(`${url}/ping`).catch(() => undefined);
  if (!res) return false;
  const body = (await res.json().catch(() => ({}))) as { status?: string };
  return res.status === 200 && body.status === 'Healthy';
}

export interface ServerAddresses {
  pid: number;
  inference: string;
  management: string;
  metrics: string;
  grpcInference?: string;
}

/**
 * The server named in `pidFile` once it has written its addresses and /ping answers Healthy, else undefined. The
 * pid is the server's own: on glibc Linux `--foreground` relaunches itself with the server's malloc settings
 * (src/cli/malloc.ts), so RSS and fds must be read from the pid file's process, not the command's.
 */
export async function healthyServer(pidFile: string): Promise<ServerAddresses | undefined> {
  const info = readJson(pidFile);
  if (!info?.pid || !info.inference || !info.management || !info.metrics) return undefined;
  return (await pingHealthy(info.inference)) ? (info as ServerAddresses) : undefined;
}

/** `modelserver --foreground` in a child process; resolves once /ping answers Healthy. */
export async function startModelServer(o: ModelServerOptions, timeoutMs = 120_000): Promise<ModelServer> {
  const config = writeServerConfig(o);
  const pidFile = path.join(o.dir, 'modelserver.pid');
  const logFile = path.join(o.dir, 'modelserver.log');
  const log = fs.openSync(logFile, 'a');
  fs.rmSync(pidFile, { force: true });
  const args = [CLI, '--foreground', '--ncs', '--ts-config', config, '--pid-file', pidFile];
  const child = spawn(process.execPath, args, { cwd: o.dir, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}`);
      const info = await healthyServer(pidFile);
      if (info) {
        return {
          pid: info.pid,
          url: info.inference,
          management: info.management,
          metrics: info.metrics,
          grpcInference: info.grpcInference,
          logFile,
          stop: () => terminate(child),
        };
      }
      await sleep(25);
    }
    throw new Error(`the server was not Healthy within ${timeoutMs} ms`);
  } catch (err) {
    await terminate(child);
    const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
    throw new Error(`${(err as Error).message}; log ${logFile}:\n${tail}`);
  }
}

export function readJson(file: string): { pid?: number; inference?: string; management?: string; metrics?: string; grpcInference?: string } | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Resident set size of a process, in bytes (Linux /proc, else ps). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) * 1024;
}
