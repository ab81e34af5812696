/**
 * Worker deaths: which ones count toward giving a model up, the backoff before a replacement, and the errors a
 * death becomes. A pool gives up after `maxDeaths` counted deaths within `windowMs`; deaths a poison request
 * caused are never recorded here (see ModelPool.run).
 */
import { ServeError } from '../errors.ts';
import type { WireResponse } from './messages.ts';

/** Seconds before the n-th consecutive replacement: 0, 1, 1, 2, 3, 5, … capped at 30. */
export function fibonacciBackoff(n: number): number {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return Math.min(a, 30);
}

export class DeathLog {
  private times: number[] = [];

  constructor(
    private readonly maxDeaths: number,
    private readonly windowMs: number,
  ) {}

  /** Records one death; returns why the model is to be given up when this one reached the limit. */
  record(cause: string, now = Date.now()): string | undefined {
    this.times = this.times.filter((t) => now - t < this.windowMs);
    this.times.push(now);
    if (this.times.length < this.maxDeaths) return undefined;
    return `workers died ${this.times.length} times within ${this.windowMs / 1000} s; last cause: ${cause}`;
  }
}

export function noResponse(label: string): WireResponse {
  return { ok: false, error: new ServeError('InternalServerError', `${label}: the worker sent no response`).toWire() };
}

/** The error for a worker death: 507 when it ran out of memory, else 500, naming the model and the cause. */
export function deathError(label: string, cause: string, err: unknown): ServeError {
  const oom = /out of memory|ERR_WORKER_OUT_OF_MEMORY/i.test(cause) || (err as { code?: string })?.code === 'ERR_WORKER_OUT_OF_MEMORY';
  return new ServeError(oom ? 'OutOfResources' : 'InternalServerError', `${label}: worker died: ${cause}`);
}
