/**
 * The soak's load: autocannon on loopback over a fixed number of connections (closed loop: each connection has
 * one request in flight), cycling through the request cases, bounded by a deadline and a total request count.
 * At the deadline no connection is cut: each one stops sending and closes after the answer to its last request,
 * so every request sent can be accounted for (answered, failed, or left without an answer).
 */
import autocannon, { type Request } from 'autocannon';
import type { Case } from './fixtures.ts';

export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx';

/** Counters the load updates as answers arrive; the soak reads them every interval. */
export class Tally {
  answered = 0;
  readonly byClass: Record<StatusClass, number> = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  /** Connection errors and timeouts: requests that got no response. */
  noResponse = 0;
  /** Answers that were not what their request should get, by case kind, with the first example. */
  readonly unexpected = new Map<string, { count: number; example: string }>();
  private latencies: number[] = [];

  response(status: number, ms: number): void {
    this.answered++;
    const cls = `${Math.floor(status / 100)}xx` as StatusClass;
    if (cls in this.byClass) this.byClass[cls]++;
    this.latencies.push(ms);
  }

  wrong(kind: string, problem: string): void {
    const seen = this.unexpected.get(kind);
    if (seen) seen.count++;
    else this.unexpected.set(kind, { count: 1, example: problem });
  }

  unexpectedCount(): number {
    return [...this.unexpected.values()].reduce((n, u) => n + u.count, 0);
  }

  /** The latencies (ms) of the answers since the previous call. */
  takeInterval(): number[] {
    const out = this.latencies;
    this.latencies = [];
    return out;
  }
}

export interface LoadOptions {
  url: string;
  cases: Case[];
  connections: number;
  seconds: number;
  maxRequests: number;
  /** Seconds a request may take before autocannon counts it as timed out. */
  timeoutSeconds: number;
  /** After the deadline, how long the connections get to receive their last answers. */
  drainSeconds: number;
}

export interface LoadEnd {
  sent: number;
  /** Sent, but neither answered nor failed: the load generator gave up on them (drain deadline). */
  abandoned: number;
  endedBy: 'time' | 'count' | 'stopped';
  seconds: number;
}

/** The autocannon client object passed with each response: the fields the drain uses. */
interface Client {
  reqsMade: number;
  responseMax?: number;
}

export interface Load {
  done: Promise<LoadEnd>;
  /** Ends the load now (e.g. the server died); requests in flight are dropped. */
  abort(): void;
}

export function startLoad(opts: LoadOptions, tally: Tally): Load {
  const requests: Request[] = opts.cases.map((c) => ({
    method: c.method,
    path: c.path,
    headers: c.headers,
    body: c.body,
    onResponse: (status: number, body: string) => {
      const problem = c.check(status, body);
      if (problem) tally.wrong(c.kind, problem);
    },
  }));
  const t0 = performance.now();
  let draining = false;
  let aborted = false;
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds + opts.drainSeconds,
    maxOverallRequests: opts.maxRequests,
    timeout: opts.timeoutSeconds,
    requests,
  });
  instance.on('response', (client: Client, status: number, _bytes: number, ms: number) => {
    tally.response(status, ms);
    // Sending its next request is what the client does right after this event: make that its last.
    if (draining) client.responseMax = client.reqsMade;
  });
  instance.on('reqError', () => tally.noResponse++);
  const deadline = setTimeout(() => (draining = true), opts.seconds * 1000);
  const done = Promise.resolve(instance).then((result) => {
    clearTimeout(deadline);
    const sent = (result as unknown as { requests: { sent: number } }).requests.sent;
    return {
      sent,
      abandoned: Math.max(0, sent - tally.answered - tally.noResponse),
      endedBy: aborted ? 'stopped' : draining ? 'time' : 'count',
      seconds: (performance.now() - t0) / 1000,
    } satisfies LoadEnd;
  });
  return {
    done,
    abort: () => {
      aborted = true;
      instance.stop();
    },
  };
}
