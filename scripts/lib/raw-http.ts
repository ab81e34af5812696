/** A raw TCP client for what fetch hides: chunked bodies that never stop, EPIPE, resets and when a socket closes. */
import net from 'node:net';

export interface RawExchange {
  /** Everything the server sent, as text. */
  text: string;
  /** Status line and headers of the first response (lower-case names). */
  status: number;
  headers: Record<string, string>;
  /** The server closed the connection (FIN or reset) before `waitMs` ran out. */
  closedByServer: boolean;
  /** An error on the client socket (EPIPE, ECONNRESET), if any. */
  error?: string;
}

export interface RawOptions {
  /** Request head without the blank line, e.g. `POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked`. */
  head: string;
  /** Body chunks written one after the other (each sent as an HTTP chunk when `chunked`). */
  chunks: Buffer[];
  chunked: boolean;
  /** Send the terminating zero-length chunk after the last one. */
  finish: boolean;
  /** How long to wait for the server to close once everything is written. */
  waitMs: number;
}

export function rawExchange(url: string, o: RawOptions): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    const received: Buffer[] = [];
    let error: string | undefined;
    let closedByServer = false;
    let timer: NodeJS.Timeout | undefined;
    let written = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      const [head] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const at = l.indexOf(':');
        if (at > 0) headers[l.slice(0, at).trim().toLowerCase()] = l.slice(at + 1).trim();
      }
      resolve({ text, status: Number(statusLine.split(' ')[1] ?? 0), headers, closedByServer, error });
    };
    socket.on('data', (d) => received.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    // Like curl, the client goes on sending its body after the server's FIN; only a reset or the end of the
    // wait ends the exchange.
    socket.on('end', () => {
      closedByServer = true;
      if (written) finish();
    });
    socket.on('close', () => {
      closedByServer ||= error !== undefined;
      finish();
    });
    socket.on('connect', async () => {
      socket.write(`${o.head}\r\n\r\n`);
      for (const c of o.chunks) {
        if (socket.destroyed) break;
        let ok: boolean;
        if (o.chunked) {
          socket.write(`${c.length.toString(16)}\r\n`);
          socket.write(c);
          ok = socket.write('\r\n');
        } else ok = socket.write(c);
        if (!ok) await new Promise((r) => socket.once('drain', r).once('close', r));
      }
      if (o.finish && !socket.destroyed && o.chunked) socket.write('0\r\n\r\n');
      written = true;
      if (closedByServer) return finish();
      timer = setTimeout(finish, o.waitMs);
    });
  });
}
