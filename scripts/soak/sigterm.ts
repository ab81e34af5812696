/**
 * The soak's end: SIGTERM while keep-alive clients are still sending. Every request the server accepted must be
 * answered (200 before the signal, then 503 with Connection: close); after the listener closed, a client's new
 * connection is refused, which ends that client. Anything else (a reset, a cut connection) is a lost request.
 */
import http from 'node:http';
import type { StopResult } from './server.ts';

export interface SigtermResult {
  sent: number;
  ok: number;
  unavailable: number;
  refused: number;
  lost: number;
  example?: string;
  stop: StopResult;
}

function post(url: string, agent: http.Agent, body: string): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

export async function sigtermUnderLoad(url: string, body: string, stop: () => Promise<StopResult>, connections = 16, warmMs = 2000): Promise<SigtermResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const r = { sent: 0, ok: 0, unavailable: 0, refused: 0, lost: 0, example: undefined as string | undefined };
  const clients = Array.from({ length: connections }, async () => {
    for (;;) {
      r.sent++;
      const o = await post(url, agent, body);
      if (o.status === 200) r.ok++;
      else if (o.status === 503) r.unavailable++;
      else if (o.error === 'ECONNREFUSED') {
        r.sent--; // never reached the server
        r.refused++;
        return;
      } else {
        r.lost++;
        r.example ??= o.error ?? `status ${o.status}`;
        if (o.error) return;
      }
    }
  });
  await new Promise((res) => setTimeout(res, warmMs));
  const stopped = await stop();
  await Promise.all(clients);
  agent.destroy();
  return { ...r, stop: stopped };
}
