/**
 * The load generator: autocannon on loopback, with every 2xx latency kept at hrtime precision (autocannon's own
 * histogram rounds to whole milliseconds, too coarse for "p50 within 1 ms").
 */
import autocannon, { type Request } from 'autocannon';

export interface LoadPoint {
  concurrency: number;
  /** 2xx responses per second. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  ok: number;
  /** Non-2xx responses, connection errors and timeouts. */
  failed: number;
  /** Count per non-2xx status, and `error` for connection errors and timeouts. */
  failures: Record<string, number>;
  seconds: number;
}

export interface LoadOptions {
  url: string;
  requests: Request[];
  concurrency: number;
  seconds: number;
  /** Unrecorded run first, at the same concurrency. */
  warmupSeconds?: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

async function once(opts: LoadOptions, seconds: number): Promise<LoadPoint> {
  const latencies: number[] = [];
  let failed = 0;
  const failures: Record<string, number> = {};
  const instance = autocannon({
    url: opts.url,
    connections: opts.concurrency,
    duration: seconds,
    timeout: 60,
    requests: opts.requests,
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) latencies.push(ms);
    else {
      failed++;
      failures[status] = (failures[status] ?? 0) + 1;
    }
  });
  const result = await instance;
  failed += result.errors;
  if (result.errors > 0) failures.error = result.errors;
  const sorted = Float64Array.from(latencies).sort();
  return {
    concurrency: opts.concurrency,
    rps: sorted.length / result.duration,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    ok: sorted.length,
    failed,
    failures,
    seconds: result.duration,
  };
}

/**
 * autocannon stops at the deadline with requests still in flight and drops their connections, but the server
 * keeps working on them; the next run would pay for them. One more request of the same kind, answered after
 * everything queued before it, waits them out (two, in case the first shared the last batch).
 */
async function drain(opts: LoadOptions): Promise<void> {
  const r = opts.requests[0];
  for (let i = 0; i < 2; i++) {
    const res = await fetch(new URL(r.path ?? '/', opts.url), { method: r.method ?? 'GET', headers: r.headers, body: r.body });
    await res.arrayBuffer();
  }
}

/** An optional warm-up, then one measured run; the server has finished all its work when this resolves. */
export async function measure(opts: LoadOptions): Promise<LoadPoint> {
  if (opts.warmupSeconds) {
    await once(opts, opts.warmupSeconds);
    await drain(opts);
  }
  const point = await once(opts, opts.seconds);
  await drain(opts);
  return point;
}
