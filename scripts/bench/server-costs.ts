/**
 * What the server costs beyond throughput: RSS per added worker, start-up time of `modelserver --start`, and
 * the mean batch size of a run (from the batch-size histogram of /metrics, else from the access log).
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { Request } from 'autocannon';
import { settle } from './cpu-share.ts';
import { measure } from './load.ts';
import { CLI, HANDWRITTEN, pingHealthy, readJson, rssBytes, startBaseline, startModelServer, writeServerConfig, type ModelServer, type Running } from './processes.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BatchCounter {
  batches: number;
  requests: number;
  source: 'metrics' | 'access log' | 'none';
}

/** Batches and requests so far for `model`: `*batch_size_count` / `*batch_size_sum` on /metrics. */
async function fromMetrics(server: ModelServer, model: string): Promise<BatchCounter | undefined> {
  const text = await fetch(`${server.metrics}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
  let batches = 0;
  let requests = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^(\w*batch_size)_(sum|count)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m || !m[3].includes(`model_name="${model}"`)) continue;
    found = true;
    if (m[2] === 'count') batches += Number(m[4]);
    else requests += Number(m[4]);
  }
  return found ? { batches, requests, source: 'metrics' } : undefined;
}

/** The same from the access log: a request in a batch of b counts 1/b of a batch. */
function fromAccessLog(server: ModelServer, model: string): BatchCounter | undefined {
  let batches = 0;
  let requests = 0;
  for (const line of fs.readFileSync(server.logFile, 'utf8').split('\n')) {
    if (!line.includes('"batchSize"')) continue;
    try {
      const entry = JSON.parse(line) as { model?: string; batchSize?: number };
      if (entry.model !== model || !(Number(entry.batchSize) > 0)) continue;
      requests++;
      batches += 1 / Number(entry.batchSize);
    } catch {
      // not a JSON line
    }
  }
  return requests > 0 ? { batches, requests, source: 'access log' } : undefined;
}

export async function batchCounter(server: ModelServer, model: string): Promise<BatchCounter> {
  return (await fromMetrics(server, model)) ?? fromAccessLog(server, model) ?? { batches: 0, requests: 0, source: 'none' };
}

/** Mean requests per batch between two readings (NaN when neither source had it). */
export function meanBatch(before: BatchCounter, after: BatchCounter): number {
  const batches = after.batches - before.batches;
  return after.source === 'none' || batches <= 0 ? NaN : (after.requests - before.requests) / batches;
}

export interface MemoryResult {
  /** RSS in MB of the model server, by worker count. */
  rssMB: Record<number, { afterLoad: number; afterTraffic: number }>;
  /** Per added worker, after traffic and after load: the slope from the fewest to the most workers. */
  perWorkerMB: number;
  perWorkerAfterLoadMB: number;
  /** The same for the hand-written server (one image per run), for comparison. */
  handWrittenRssMB: Record<number, { afterLoad: number; afterTraffic: number }>;
  handWrittenPerWorkerMB: number;
  modelMB: number;
}

/** The median of `n` RSS readings `everyMs` apart: one reading lands anywhere in V8's collection cycle. */
async function medianRss(pid: number, n = 5, everyMs = 200): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) await sleep(everyMs);
    readings.push(rssBytes(pid) / 2 ** 20);
  }
  return readings.sort((a, b) => a - b)[n >> 1];
}

async function rssOf(start: () => Promise<Running>, requests: Request[], concurrency: number, seconds: number) {
  await settle();
  const s = await start();
  try {
    const afterLoad = await medianRss(s.pid);
    await measure({ url: s.url, requests, concurrency, seconds });
    return { afterLoad, afterTraffic: await medianRss(s.pid) };
  } finally {
    await s.stop();
  }
}

const WORKER_COUNTS = [1, 2, 3];

function slope(rss: MemoryResult['rssMB'], key: 'afterLoad' | 'afterTraffic'): number {
  const lo = WORKER_COUNTS[0];
  const hi = WORKER_COUNTS[WORKER_COUNTS.length - 1];
  return (rss[hi][key] - rss[lo][key]) / (hi - lo);
}

/**
 * RSS of a server with the CNN and 1, 2, then 3 workers (1 intra-op thread each), after load and after traffic
 * that keeps every worker's batches full (`perWorker` connections per worker); the same for the hand-written one.
 * Each figure is the median of five readings; the cost per added worker is the slope from 1 to 3 workers.
 */
export async function memoryPerWorker(
  dir: string,
  store: string,
  modelFile: string,
  jpegs: Request[],
  perWorker: number,
  seconds: number,
): Promise<MemoryResult> {
  const rssMB: MemoryResult['rssMB'] = {};
  const handWrittenRssMB: MemoryResult['handWrittenRssMB'] = {};
  for (const workers of WORKER_COUNTS) {
    const at = path.join(dir, `mem-${workers}`);
    const toServer = jpegs.map((r) => ({ ...r, path: '/predictions/cnn' }));
    rssMB[workers] = await rssOf(() => startModelServer({ dir: at, store, archives: ['cnn.mar'], workers, intraOpThreads: 1 }), toServer, perWorker * workers, seconds);
    const toHand = jpegs.map((r) => ({ ...r, path: '/' }));
    handWrittenRssMB[workers] = await rssOf(() => startBaseline(HANDWRITTEN, [modelFile, String(workers)]), toHand, perWorker * workers, seconds);
  }
  return {
    rssMB,
    perWorkerMB: slope(rssMB, 'afterTraffic'),
    perWorkerAfterLoadMB: slope(rssMB, 'afterLoad'),
    handWrittenRssMB,
    handWrittenPerWorkerMB: slope(handWrittenRssMB, 'afterTraffic'),
    modelMB: fs.statSync(modelFile).size / 2 ** 20,
  };
}

export interface StartupResult {
  /** ms from running `modelserver --start` until /ping answers Healthy, per try. */
  healthyMs: number[];
  /** ms until the `--start` command itself returned, per try. */
  commandMs: number[];
  /** ms until the server process wrote its first log line (two Node start-ups: the command and the server). */
  firstLogMs: number[];
  /** ms until it logged "model loaded" (archive unpacked, workers' sessions created). */
  modelLoadedMs: number[];
}

/** Wall-clock ms of the first log line and of "model loaded", from the server's JSON log. */
function logTimes(file: string): { first: number; loaded: number } {
  const times = { first: NaN, loaded: NaN };
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    try {
      const entry = JSON.parse(line) as { time?: string; msg?: string };
      const t = Date.parse(entry.time ?? '');
      if (Number.isNaN(times.first)) times.first = t;
      if (entry.msg === 'model loaded' && Number.isNaN(times.loaded)) times.loaded = t;
    } catch {
      // not a JSON line
    }
  }
  return times;
}

/** `modelserver --start` with one archive of `store`, timed to Healthy, then `--stop`; `tries` times. */
export async function startupTime(dir: string, store: string, archive: string, tries: number, repository?: string): Promise<StartupResult> {
  const result: StartupResult = { healthyMs: [], commandMs: [], firstLogMs: [], modelLoadedMs: [] };
  for (let t = 0; t < tries; t++) {
    const at = fs.mkdtempSync(path.join(dir, `startup-${path.basename(archive, '.mar')}-`));
    // With a repository, `archive` names its one model folder and no archive loads.
    const config = writeServerConfig({ dir: at, store, archives: repository ? [] : [archive], workers: 2, repository });
    const pidFile = path.join(at, 'modelserver.pid');
    const logFile = path.join(at, 'modelserver.log');
    const args = [CLI, '--start', '--ncs', '--ts-config', config, '--pid-file', pidFile, '--log-file', logFile];
    await settle();
    const wall0 = Date.now();
    const t0 = performance.now();
    const cmd = spawn(process.execPath, args, { cwd: at, stdio: 'ignore' });
    let commandMs = NaN;
    const done = new Promise<void>((r) => cmd.once('exit', () => ((commandMs = performance.now() - t0), r())));
    let healthyMs = NaN;
    try {
      while (performance.now() - t0 < 60_000) {
        const info = readJson(pidFile);
        if (info?.inference && (await pingHealthy(info.inference))) {
          healthyMs = performance.now() - t0;
          break;
        }
        if (cmd.exitCode !== null && cmd.exitCode !== 0) break;
        await sleep(5);
      }
      await done;
    } finally {
      await promisify(execFile)(process.execPath, [CLI, '--stop', '--pid-file', pidFile], { cwd: at }).catch(() => {});
      const left = readJson(pidFile)?.pid; // still there only if --stop could not stop the server we started
      if (left) {
        try {
          process.kill(left, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    const times = logTimes(logFile);
    result.healthyMs.push(healthyMs);
    result.commandMs.push(commandMs);
    result.firstLogMs.push(times.first - wall0);
    result.modelLoadedMs.push(times.loaded - wall0);
  }
  return result;
}
