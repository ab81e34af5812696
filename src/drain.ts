/**
 * Graceful stop for the HTTP listeners: tracks the responses in flight; once draining, new requests get a 503 with
 * `Connection: close` (except `/ping`, which the app answers Unhealthy), responses in flight that have not sent
 * their headers yet get `Connection: close` too (so no client reuses a connection about to go), and `drain()`
 * resolves when the requests that were in flight have been answered, or after a bounded time.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export class DrainGate {
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;
  private waiters: Array<() => void> = [];

  get stopping(): boolean {
    return this.draining;
  }

  wrap(handler: Handler): Handler {
    return (req, res) => {
      if (this.draining && req.url !== '/ping') {
        res.writeHead(503, {
          'content-type': 'application/json',
          connection: 'close',
          'retry-after': '1',
          'x-request-id': randomUUID(),
        });
        res.end(JSON.stringify({ code: 503, type: 'ServiceUnavailableException', message: 'the server is stopping' }));
        return;
      }
      this.inFlight.add(res);
      // A ServerResponse emits 'close' once, after 'finish' or when its connection went away first.
      res.once('close', () => {
        this.inFlight.delete(res);
        if (this.inFlight.size === 0) this.wake();
      });
      if (this.draining) res.setHeader('connection', 'close');
      handler(req, res);
    };
  }

  /** Starts draining; resolves when nothing is in flight, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((r) => this.waiters.push(r)),
      new Promise<void>((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
