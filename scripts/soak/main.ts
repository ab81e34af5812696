/**
 * `npm run soak`: a bounded load on loopback against the real server in a child process, for a set number of
 * minutes (`--minutes`, or SOAK_MINUTES; default 2). Every 10 s it prints the requests answered, the statuses by
 * class, the server's RSS, heap (if its metrics API has one), open file descriptors and the interval's p99; at the
 * end a summary, and it exits 1 if a bound in report.ts was broken. Options (or env): `--connections`
 * (SOAK_CONNECTIONS, default 8), `--max-requests` (SOAK_MAX_REQUESTS, default 5000 per second of the run),
 * `--keep` (SOAK_KEEP=1) keeps the temp folder (models, archives, config, server log).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { accounted } from '../bench/cpu-share.ts';
import { buildSoakFixtures } from './fixtures.ts';
import { startLoad, Tally, type LoadEnd } from './load.ts';
import { BOUNDS_TEXT, line, sample, summary, type Sample } from './report.ts';
import { logTail, startSoakServer, type SoakServer, type StopResult } from './server.ts';
import { HEAP_METRIC, heapFromMetrics, processStats } from './stats.ts';
import { runHostile } from './hostile.ts';
import { hostileReport } from './hostile-report.ts';
import { sigtermUnderLoad } from './sigterm.ts';

const INTERVAL_SECONDS = 10;
const WORKERS_PER_MODEL = 1;
const STOP_GRACE_MS = 60_000;

class UsageError extends Error {}

function options() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      connections: { type: 'string' },
      'max-requests': { type: 'string' },
      keep: { type: 'boolean' },
    },
  });
  const num = (name: string, raw: string | undefined, fallback: number, integer: boolean): number => {
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!(v > 0) || (integer && !Number.isInteger(v))) throw new UsageError(`${name} must be a positive ${integer ? 'integer' : 'number'}, not "${raw}"`);
    return v;
  };
  const minutes = num('--minutes (SOAK_MINUTES)', values.minutes ?? process.env.SOAK_MINUTES, 2, false);
  if (minutes * 60 < 2 * INTERVAL_SECONDS) {
    throw new UsageError(`--minutes must cover at least two ${INTERVAL_SECONDS} s intervals (${2 * INTERVAL_SECONDS} s), not "${minutes}"`);
  }
  return {
    minutes,
    connections: num('--connections (SOAK_CONNECTIONS)', values.connections ?? process.env.SOAK_CONNECTIONS, 8, true),
    maxRequests: num('--max-requests (SOAK_MAX_REQUESTS)', values['max-requests'] ?? process.env.SOAK_MAX_REQUESTS, Math.ceil(minutes * 60 * 5000), true),
    keep: values.keep || Boolean(process.env.SOAK_KEEP),
  };
}

const say = (msg: string) => process.stdout.write(`${msg}\n`);

async function soak(tmp: string, opts: ReturnType<typeof options>, interrupt: AbortSignal, onServer: (s: SoakServer) => void): Promise<boolean> {
  const f = await buildSoakFixtures(tmp);
  const server = await startSoakServer({ dir: path.join(tmp, 'server'), store: f.store, archives: f.archives, workers: WORKERS_PER_MODEL });
  onServer(server);
  if (interrupt.aborted) return false;
  const heapNote = (await heapFromMetrics(server.metrics)) === undefined
    ? `not reported: the server's metrics API has no heap metric (${HEAP_METRIC}), so RSS is the memory figure (it covers the main thread and every worker thread)`
    : `from the metrics API (${HEAP_METRIC}, main thread only)`;
  const bad = [...new Set(f.cases.filter((c) => c.kind.startsWith('bad:')).map((c) => c.kind.slice(5)))];
  say(`soak: ${opts.minutes} min, ${opts.connections} connections on loopback, at most ${opts.maxRequests} requests; server pid ${server.pid} at ${server.url}`);
  say(`  models: colors (image_classifier, JPEG/PNG raw and multipart) and mlp (tensor, JSON), ${WORKERS_PER_MODEL} worker each`);
  const hostileKinds = f.cases.filter((c) => c.kind.startsWith('hostile:')).map((c) => c.kind.slice(9));
  say(`  request mix: ${f.cases.length} cases cycled per connection, ${f.cases.filter((c) => c.kind.startsWith('bad:')).length} of them bad (${bad.join(', ')}), ${hostileKinds.length} hostile (${hostileKinds.join(', ')})`);
  say(`  bounds: ${BOUNDS_TEXT}`);
  say(`  heap: ${heapNote}`);
  say(`  hostile: nested JSON and BYTES floods in the mix; beside it one client sending chunked bodies over max_request_size and disconnecting (after its request, mid-body); at the end SIGTERM under 16 keep-alive clients`);
  const atStart = await processStats(server.pid, server.metrics);
  say(`  server RSS at start (models loaded, before any request): ${(atStart.rss / 2 ** 20).toFixed(1)} MB`);
  say(`  machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB; the load generator runs on the same cores`);

  const tally = new Tally();
  const load = startLoad(
    { url: server.url, cases: f.cases, connections: opts.connections, seconds: opts.minutes * 60, maxRequests: opts.maxRequests, timeoutSeconds: 30, drainSeconds: 60 },
    tally,
  );
  interrupt.addEventListener('abort', () => load.abort(), { once: true });
  const hostileStop = new AbortController();
  const hostile = runHostile(server.url, f.image, hostileStop.signal);
  let died = false;
  let stopping = false;
  void server.exited.then(() => {
    if (stopping) return;
    died = true;
    load.abort();
  });
  const t0 = performance.now();
  const samples: Sample[] = [];
  let since = 0;
  const take = async () => {
    const elapsed = (performance.now() - t0) / 1000;
    try {
      const s = sample(elapsed, since, tally, await processStats(server.pid, server.metrics));
      since = elapsed;
      samples.push(s);
      say(line(s));
    } catch (err) {
      say(`[${elapsed.toFixed(0).padStart(4)} s] could not read the server process: ${(err as Error).message}`);
    }
  };
  let sampling = Promise.resolve();
  const ticker = setInterval(() => (sampling = sampling.then(take)), INTERVAL_SECONDS * 1000);
  let end: LoadEnd & { otherCpu: number };
  try {
    end = await accounted([server.pid], () => load.done);
  } finally {
    clearInterval(ticker);
    hostileStop.abort();
  }
  const hostileTally = await hostile;
  await sampling;
  // Once every connection has closed: not compared with the bound (the load's sockets are gone), shown for the record.
  const after = died ? undefined : await processStats(server.pid, server.metrics).catch(() => undefined);
  if (after) say(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] load over, connections closed | rss ${(after.rss / 2 ** 20).toFixed(1)} MB | fds ${after.fds}`);

  stopping = true;
  const sigterm = died ? undefined : await sigtermUnderLoad(`${server.url}/predictions/mlp`, f.mlpBody, () => server.stop(STOP_GRACE_MS));
  const stop: StopResult = sigterm?.stop ?? (await server.stop(STOP_GRACE_MS));
  if (died) say(`the server exited during the soak (code ${stop.code}, signal ${stop.signal}); log tail:\n${logTail(server.logFile)}`);
  say(`\nother processes used ${end.otherCpu.toFixed(0)}% of the CPU during the load (the soak and the server excluded)`);
  const verdict = summary(samples, tally, end, stop, heapNote, after);
  const hostileVerdict = hostileReport(hostileTally, sigterm, atStart.rss, samples[samples.length - 1]?.rss);
  say(verdict.text);
  say(hostileVerdict.text);
  if (!verdict.ok && !died) say(`server log tail:\n${logTail(server.logFile)}`);
  return verdict.ok && hostileVerdict.ok;
}

async function main(): Promise<number> {
  const opts = options();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'modelserver-soak-'));
  let server: SoakServer | undefined;
  const interrupt = new AbortController();
  // First signal: end the load, stop the server with SIGTERM, report. A second one: kill the server and leave.
  const onSignal = (sig: NodeJS.Signals) => {
    if (!interrupt.signal.aborted) {
      say(`${sig}: ending the soak early`);
      interrupt.abort();
      return;
    }
    if (server) process.kill(server.pid, 'SIGKILL');
    void fs.rm(tmp, { recursive: true, force: true }).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const ok = await soak(tmp, opts, interrupt.signal, (s) => (server = s));
    return interrupt.signal.aborted ? 130 : ok ? 0 : 1;
  } finally {
    await server?.stop(10_000);
    if (opts.keep) say(`kept ${tmp}`);
    else await fs.rm(tmp, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

process.exitCode = await main().catch((err: Error & { code?: string }) => {
  const usage = err instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`soak: ${usage ? err.message : (err.stack ?? err)}\n`);
  return usage ? 2 : 1;
});
