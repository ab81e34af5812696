/**
 * The soak's output: one line per interval, then a summary that checks the bounds. Memory: RSS after warm-up
 * (the first interval) against the last interval must grow by less than max(64 MB, 25 % of the warm-up RSS);
 * open file descriptors by at most 50; no request without a response, no 5xx, no unexpected answer, and the
 * server must exit 0 on SIGTERM.
 */
import { percentile } from '../bench/load.ts';
import type { LoadEnd, StatusClass, Tally } from './load.ts';
import type { StopResult } from './server.ts';
import type { ProcessStats } from './stats.ts';

const MB = 1024 * 1024;
export const RSS_GROWTH_FLOOR = 64 * MB;
export const RSS_GROWTH_SHARE = 0.25;
export const FD_GROWTH_MAX = 50;
export const BOUNDS_TEXT =
  'RSS growth from the first interval (after warm-up) to the last < max(64 MB, 25% of the first); ' +
  `open fds growth <= ${FD_GROWTH_MAX}; 0 requests without a response; 0 5xx; 0 unexpected answers; exit 0 on SIGTERM`;

export interface Sample extends ProcessStats {
  /** Seconds since the load started. */
  elapsed: number;
  answered: number;
  byClass: Record<StatusClass, number>;
  noResponse: number;
  /** Answers per second over the interval. */
  rate: number;
  /** p99 latency (ms) of the answers in the interval, all statuses. */
  p99: number;
}

const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');

export function sample(elapsed: number, since: number, tally: Tally, stats: ProcessStats): Sample {
  const lat = Float64Array.from(tally.takeInterval()).sort();
  const span = Math.max(elapsed - since, 1e-9);
  return { ...stats, elapsed, answered: tally.answered, byClass: { ...tally.byClass }, noResponse: tally.noResponse, rate: lat.length / span, p99: percentile(lat, 99) };
}

export function line(s: Sample): string {
  const c = s.byClass;
  return [
    `[${s.elapsed.toFixed(0).padStart(4)} s]`,
    `requests ${String(s.answered).padStart(7)} (${s.rate.toFixed(0).padStart(4)}/s)`,
    `2xx ${c['2xx']} 4xx ${c['4xx']} 5xx ${c['5xx']} no-response ${s.noResponse}`,
    `rss ${mb(s.rss)}`,
    `heap ${s.heapUsed === undefined ? 'n/a' : mb(s.heapUsed)}`,
    `fds ${s.fds}`,
    `p99 ${ms(s.p99)}`,
  ].join(' | ');
}

export interface Verdict {
  ok: boolean;
  text: string;
}

export function summary(samples: Sample[], tally: Tally, load: LoadEnd, stop: StopResult, heapNote: string, after?: ProcessStats): Verdict {
  const first = samples[0];
  const last = samples[samples.length - 1];
  const checks: Array<[boolean, string]> = [];
  const out: string[] = ['', 'soak summary'];
  out.push(`  load: ${load.seconds.toFixed(1)} s, ended by ${load.endedBy === 'time' ? 'the time limit' : load.endedBy === 'count' ? 'the request cap' : 'an abort (interrupt or server exit; requests in flight were dropped)'}`);
  const c = tally.byClass;
  out.push(`  requests: ${load.sent} sent, ${tally.answered} answered (2xx ${c['2xx']}, 3xx ${c['3xx']}, 4xx ${c['4xx']}, 5xx ${c['5xx']}), ` +
    `${(tally.answered / load.seconds).toFixed(0)}/s`);
  const lost = tally.noResponse + load.abandoned;
  checks.push([lost === 0, `requests without a response: ${lost} (connection errors/timeouts ${tally.noResponse}, abandoned ${load.abandoned})`]);
  checks.push([c['5xx'] === 0, `5xx responses: ${c['5xx']}`]);
  const wrong = tally.unexpectedCount();
  const examples = [...tally.unexpected].map(([kind, u]) => `\n      ${kind}: ${u.count}, e.g. ${u.example}`).join('');
  checks.push([wrong === 0, `unexpected answers (wrong status, label or body for that request): ${wrong}${examples}`]);
  if (samples.length >= 2) {
    const bound = Math.max(RSS_GROWTH_FLOOR, RSS_GROWTH_SHARE * first.rss);
    const growth = last.rss - first.rss;
    checks.push([growth < bound, `RSS ${mb(first.rss)} at ${first.elapsed.toFixed(0)} s -> ${mb(last.rss)} at ${last.elapsed.toFixed(0)} s ` +
      `(${growth >= 0 ? '+' : ''}${mb(growth)}); bound: growth < max(64 MB, 25% of ${mb(first.rss)}) = ${mb(bound)}`]);
    const fdGrowth = last.fds - first.fds;
    checks.push([fdGrowth <= FD_GROWTH_MAX, `open fds ${first.fds} -> ${last.fds} (${fdGrowth >= 0 ? '+' : ''}${fdGrowth}); bound: growth <= ${FD_GROWTH_MAX}`]);
    const peak = Math.max(...samples.map((s) => s.rss));
    const p99s = samples.map((s) => s.p99).filter(Number.isFinite);
    out.push(`  peak RSS ${mb(peak)}; p99 per interval: first ${ms(first.p99)}, last ${ms(last.p99)}, max ${ms(Math.max(...p99s))}`);
    if (first.heapUsed !== undefined && last.heapUsed !== undefined) out.push(`  heap used ${mb(first.heapUsed)} -> ${mb(last.heapUsed)}`);
  } else {
    checks.push([false, `memory and fds not checked: the load sampled ${samples.length} interval(s), the bounds need two`]);
  }
  if (after) out.push(`  after the load, connections closed: RSS ${mb(after.rss)}, ${after.fds} open fds`);
  out.push(`  heap: ${heapNote}`);
  const how = stop.killed ? 'did not exit in time and was killed' : `exited with code ${stop.code}${stop.signal ? ` (signal ${stop.signal})` : ''}`;
  checks.push([!stop.killed && stop.code === 0, `server on SIGTERM: ${how} after ${stop.ms.toFixed(0)} ms`]);
  for (const [ok, text] of checks) out.push(`  ${ok ? 'PASS' : 'FAIL'}  ${text}`);
  const ok = checks.every(([pass]) => pass);
  out.push(`result: ${ok ? 'PASS' : 'FAIL'}`);
  return { ok, text: out.join('\n') };
}
