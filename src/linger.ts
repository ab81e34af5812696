/**
 * Answering a request whose body was not read to its end (refused as too large, unauthorised, unknown model,
 * server stopping, ...). Keep-alive is impossible then: the rest of the body would be read as the next request,
 * or, once a body parser has stopped reading, the connection would hang. So the answer carries
 * `Connection: close`. Closing at once is not safe either: a socket closed while the client's bytes are still
 * arriving sends a reset, and the client gets EPIPE or ECONNRESET instead of the answer. So after the answer the
 * server shuts its side (FIN), reads and discards what the client still sends, and closes once the client has
 * finished its body or closed its side, or after LINGER_MS at the latest (the lingering close of nginx and Apache).
 *
 * The rule lives in a ServerResponse subclass given to the http server (`ServerResponse` option), so that it
 * costs ordinary requests one property read and no allocation.
 */
import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Longest a connection lingers after its answer, for a client still sending a body nobody will read. */
export const LINGER_MS = 5_000;

export class LingeringResponse extends http.ServerResponse {}

// On the subclass's prototype (Node's writeHead has overloads a subclass method cannot restate): one check per
// answer, no allocation.
const writeHead = http.ServerResponse.prototype.writeHead as (this: http.ServerResponse, ...args: unknown[]) => http.ServerResponse;
Object.defineProperty(LingeringResponse.prototype, 'writeHead', {
  configurable: true,
  writable: true,
  value: function (this: http.ServerResponse, status: unknown, message?: unknown, headers?: unknown) {
    if (!this.req.complete && !this.headersSent) {
      this.setHeader('connection', 'close');
      linger(this.req, this.req.socket);
    }
    return arguments.length <= 2 ? writeHead.call(this, status, message) : writeHead.call(this, status, message, headers);
  },
});

/** Replaces the socket's close-after-answer (Node calls `destroySoon` once a `Connection: close` answer is out). */
function linger(req: IncomingMessage, socket: Socket): void {
  const s = socket as Socket & { destroySoon?: () => void };
  if (Object.hasOwn(s, 'destroySoon')) return;
  s.destroySoon = () => {
    if (s.destroyed) return;
    const timer = setTimeout(() => s.destroy(), LINGER_MS);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      s.destroy();
    };
    req.once('end', done);
    req.once('error', done);
    s.once('end', done);
    s.once('close', () => clearTimeout(timer));
    if (req.complete) return done();
    s.end(); // our side is finished; the client may go on sending
    req.resume(); // discard the rest of the body as it comes
    s.resume();
  };
}
