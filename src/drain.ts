/**
 * Graceful stop for the HTTP and gRPC listeners: counts requests in flight; once draining, new requests get a 503 with
 * `Connection: close` (except `/ping`, which the app answers Unhealthy), and `drained()` resolves when the
 * requests that were in flight have been answered, or after a bounded time.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export class DrainGate {
  private inFlight = 0;
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
      this.inFlight++;
      // A ServerResponse emits 'close' once, after 'finish' or when its connection went away first.
      res.once('close', () => {
        this.inFlight--;
        if (this.inFlight === 0) this.wake();
      });
      if (this.draining) res.setHeader('connection', 'close');
      handler(req, res);
    };
  }

  /** A call that does not go through `wrap` (gRPC) starts; call the returned function once when it ends. */
  enter(): () => void {
    this.inFlight++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.inFlight--;
      if (this.inFlight === 0) this.wake();
    };
  }

  /** Starts draining; resolves when nothing is in flight, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    if (this.inFlight === 0) return;
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
