/**
 * The soak's hostile clients, beside the autocannon load (which carries the hostile bodies that fit its request
 * cycle: nested JSON and BYTES floods). One loop alternates what autocannon cannot send:
 * - a chunked body over max_request_size, sent on and on like curl does: it must get its 413 with
 *   `Connection: close` and the server must close the connection (no EPIPE, no reset, no hang);
 * - a client that disconnects: a full request to the image model, the socket destroyed right after it is written;
 * - a client that disconnects halfway through its body (a Content-Length it never finishes).
 * Both disconnect kinds have nobody to answer; they count as sent and left by the client.
 */
import net from 'node:net';
import { rawExchange } from '../lib/raw-http.ts';

export interface KindTally {
  sent: number;
  expected: number;
  /** Left by the client on purpose (no answer to expect). */
  abandoned: number;
  /** Got something other than the expected answer, or no answer: with an example. */
  wrong: number;
  example?: string;
}

export type HostileTally = Map<string, KindTally>;

const MAX_REQUEST_SIZE = 6553500; // the server's default max_request_size

function kind(t: HostileTally, name: string): KindTally {
  let k = t.get(name);
  if (!k) t.set(name, (k = { sent: 0, expected: 0, abandoned: 0, wrong: 0 }));
  return k;
}

async function oversizeChunked(url: string, k: KindTally): Promise<void> {
  const host = new URL(url).host;
  k.sent++;
  const chunk = Buffer.alloc(256 * 1024, 0x31);
  const res = await rawExchange(url, {
    head: `POST /predictions/mlp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked`,
    chunks: Array.from({ length: Math.ceil((MAX_REQUEST_SIZE * 1.5) / chunk.length) }, () => chunk),
    chunked: true,
    finish: true,
    waitMs: 30_000,
  });
  const problem =
    res.error !== undefined ? `client error ${res.error}` :
    res.status !== 413 ? `status ${res.status}` :
    res.headers.connection !== 'close' ? `Connection: ${res.headers.connection}` :
    !res.closedByServer ? 'the server kept the connection open' : undefined;
  if (problem === undefined) k.expected++;
  else {
    k.wrong++;
    k.example ??= problem;
  }
}

function disconnect(url: string, head: string, body: Buffer, k: KindTally): Promise<void> {
  const { hostname, port } = new URL(url);
  k.sent++;
  return new Promise((resolve) => {
    const s = net.connect(Number(port), hostname, () => {
      s.write(head);
      s.write(body, () => {
        s.destroy();
        k.abandoned++;
        resolve();
      });
    });
    s.on('error', () => {
      k.wrong++;
      k.example ??= 'could not connect';
      resolve();
    });
  });
}

/** Runs the loop until `signal` aborts; `image` is a PNG the image model takes. */
export async function runHostile(url: string, image: Buffer, signal: AbortSignal, pauseMs = 100): Promise<HostileTally> {
  const t: HostileTally = new Map();
  const host = new URL(url).host;
  for (let i = 0; !signal.aborted; i++) {
    if (i % 3 === 0) await oversizeChunked(url, kind(t, 'hostile: chunked body over max_request_size'));
    else if (i % 3 === 1) {
      const head = `POST /predictions/colors HTTP/1.1\r\nHost: ${host}\r\nContent-Type: image/png\r\nContent-Length: ${image.length}\r\n\r\n`;
      await disconnect(url, head, image, kind(t, 'hostile: client disconnects after its request'));
    } else {
      const head = `POST /predictions/colors HTTP/1.1\r\nHost: ${host}\r\nContent-Type: image/png\r\nContent-Length: ${image.length * 4}\r\n\r\n`;
      await disconnect(url, head, image, kind(t, 'hostile: client disconnects mid-body'));
    }
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  return t;
}
