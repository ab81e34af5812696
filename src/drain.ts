/**
 * Graceful stop for the HTTP and gRPC listeners: tracks the responses (and gRPC calls, through `enter`) in flight;
 * once draining, new requests get a 503 with `Connection: close` (except `/ping`, which the app answers
 * Unhealthy), responses in flight that have not sent their headers yet get `Connection: close` too (so no client
 * reuses a connection about to go), and `drain()` resolves when the requests that were in flight have been
 * answered, or after a bounded time.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * A keep-alive connection is closed at stop once it has been idle this long. Closing one the moment its last answer
 * went out races the next request its client is already sending (the client gets a reset): under load that gap is
 * well under a millisecond, and a client that waited this long is not about to send.
 */
export const IDLE_GRACE_MS = 250;

interface SocketState {
  active: number;
  idleSince: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export class DrainGate {
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;
  private waiters: Array<() => void> = [];
  private readonly sockets = new Map<Socket, SocketState>();

  get stopping(): boolean {
    return this.draining;
  }

  /** Tracks the server's connections, so that `closeIdle` can tell an idle one from one just answered. */
  watch(server: Server): void {
    server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (socket: Socket) => {
      this.sockets.set(socket, { active: 0, idleSince: performance.now() });
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /**
   * Closes keep-alive connections once they have been idle for IDLE_GRACE_MS, until none is left or `deadline`
   * (performance.now() ms) passes. Connections whose side the server already ended (a lingering close, an answer
   * with Connection: close being written) close by themselves.
   */
  async closeIdle(deadline: number): Promise<void> {
    while (this.sockets.size > 0 && performance.now() < deadline) {
      const now = performance.now();
      for (const [socket, st] of this.sockets) {
        if (st.active === 0 && socket.writable && now - st.idleSince >= IDLE_GRACE_MS) socket.destroy();
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  wrap(handler: Handler): Handler {
    return (req, res) => {
      const st = this.sockets.get(req.socket);
      if (st) st.active++;
      if (this.draining && req.url !== '/ping') {
        if (st) res.once('close', () => this.settled(st));
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
        if (st) this.settled(st);
        this.inFlight.delete(res);
        if (this.idleNow()) this.wake();
      });
      if (this.draining) res.setHeader('connection', 'close');
      handler(req, res);
    };
  }

  /** gRPC calls in flight (they do not go through `wrap`). */
  private calls = 0;

  /** A call that does not go through `wrap` (gRPC) starts; call the returned function once when it ends. */
  enter(): () => void {
    this.calls++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.calls--;
      if (this.idleNow()) this.wake();
    };
  }

  private idleNow(): boolean {
    return this.inFlight.size === 0 && this.calls === 0;
  }

  private settled(st: SocketState): void {
    st.active--;
    st.idleSince = performance.now();
  }

  /** Starts draining; resolves when nothing is in flight, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    if (this.idleNow()) return;
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
