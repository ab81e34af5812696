/**
 * The overload row: far more connections than the server can serve at once (2,000 by default, BENCH_OVERLOAD_CONNECTIONS)
 * against the MLP with `job_queue_size=10`, each connection sending as fast as it is answered. What matters is
 * how fast the *admitted* requests (200) are answered while the excess is shed (503, or a connection closed past
 * max_connections). Measured twice in the same run, on the same machine: with the server's bounds off
 * (max_connections=0, no queue timeout: the baseline) and with them on (max_connections at its default, a queue
 * timeout of OVERLOAD_QUEUE_TIMEOUT_MS).
 */
import fs from 'node:fs';
import path from 'node:path';
import autocannon, { type Request } from 'autocannon';
import { percentile } from './load.ts';
import { startModelServer } from './processes.ts';

export const OVERLOAD_QUEUE_TIMEOUT_MS = 100;
export const OVERLOAD_QUEUE_SIZE = 10;

export interface OverloadPoint {
  label: string;
  connections: number;
  settings: Record<string, string>;
  seconds: number;
  /** 200s: count, per second, and their latency percentiles (ms, client side). */
  admitted: number;
  admittedRps: number;
  p50: number;
  p99: number;
  /** The same 200s timed inside the server (access log: request read to answer written, queue wait included). */
  serverP50: number;
  serverP99: number;
  /** 503s (queue full or past the queue timeout) and their p99. */
  shed: number;
  shedP99: number;
  /** Connection errors and timeouts (connections closed past max_connections, resets). */
  errors: number;
  /** Any other status. */
  other: number;
}

/** Server-side ms of the 200s in the access log from byte `from` on. */
function serverTimes(logFile: string, from: number): Float64Array {
  const text = fs.readFileSync(logFile).subarray(from).toString('utf8');
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"component":"access"') || !line.includes('"status":200')) continue;
    const m = /"ms":([0-9.]+)/.exec(line);
    if (m) out.push(Number(m[1]));
  }
  return Float64Array.from(out).sort();
}

async function point(label: string, url: string, requests: Request[], connections: number, seconds: number, settings: Record<string, string>, logFile: string): Promise<OverloadPoint> {
  const logFrom = fs.statSync(logFile).size;
  const ok: number[] = [];
  const shed: number[] = [];
  let other = 0;
  const instance = autocannon({ url, connections, duration: seconds, timeout: 30, requests });
  instance.on('response', (_c: unknown, status: number, _b: number, ms: number) => {
    if (status === 200) ok.push(ms);
    else if (status === 503) shed.push(ms);
    else other++;
  });
  const result = await instance;
  const sortedOk = Float64Array.from(ok).sort();
  const sortedShed = Float64Array.from(shed).sort();
  await new Promise((r) => setTimeout(r, 500)); // the access log is written once per event-loop turn
  const server = serverTimes(logFile, logFrom);
  return {
    label,
    connections,
    settings,
    seconds: result.duration,
    admitted: ok.length,
    admittedRps: ok.length / result.duration,
    p50: percentile(sortedOk, 50),
    p99: percentile(sortedOk, 99),
    serverP50: percentile(server, 50),
    serverP99: percentile(server, 99),
    shed: shed.length,
    shedP99: percentile(sortedShed, 99),
    errors: result.errors + result.timeouts,
    other,
  };
}

export async function overload(tmp: string, store: string, requests: Request[], workers: number, seconds: number, say: (m: string) => void): Promise<OverloadPoint[]> {
  const connections = Number(process.env.BENCH_OVERLOAD_CONNECTIONS ?? 2000);
  const q = { job_queue_size: String(OVERLOAD_QUEUE_SIZE) };
  const variants: Array<[string, Record<string, string>]> = [
    ['bounds off (baseline)', { ...q, max_connections: '0', default_queue_timeout_ms: '0' }],
    ['default max_connections, queue timeout', { ...q, default_queue_timeout_ms: String(OVERLOAD_QUEUE_TIMEOUT_MS) }],
    ['max_connections=256, queue timeout', { ...q, max_connections: '256', default_queue_timeout_ms: String(OVERLOAD_QUEUE_TIMEOUT_MS) }],
  ];
  const out: OverloadPoint[] = [];
  for (const [i, [label, extra]] of variants.entries()) {
    const server = await startModelServer({ dir: path.join(tmp, `overload-${i}`), store, archives: ['mlp.mar'], workers, extra });
    try {
      await point(label, server.url, requests, 64, 1, extra, server.logFile); // warm-up
      const p = await point(label, server.url, requests, connections, seconds, extra, server.logFile);
      say(
        `  overload, ${label}: admitted ${p.admitted} (${p.admittedRps.toFixed(0)}/s) p50 ${p.p50.toFixed(1)} ms p99 ${p.p99.toFixed(1)} ms ` +
          `(in the server ${p.serverP50.toFixed(2)} / ${p.serverP99.toFixed(2)} ms); shed 503 ${p.shed} (p99 ${p.shedP99.toFixed(1)} ms); connection errors ${p.errors}`,
      );
      out.push(p);
    } finally {
      await server.stop();
    }
  }
  return out;
}
