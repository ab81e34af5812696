import { expect } from 'chai';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mlp } from '../../scripts/lib/onnx-models.ts';
import { alive, startServerProcess, type ServerProcess } from '../helpers/process-server.ts';
import { TestStore } from '../helpers/server.ts';

interface Outcome {
  status?: number;
  body?: string;
  connection?: string;
  error?: string;
}

function post(url: string, agent: http.Agent, body: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString(), connection: res.headers.connection }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

describe('reliability: SIGTERM under load', function () {
  let store: TestStore;
  let dir: string;
  let server: ServerProcess | undefined;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'mlp', handler: 'tensor', model: mlp(), config: 'minWorkers: 2\nmaxWorkers: 2\nbatchSize: 8\n' });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-sigterm-'));
  });
  after(async () => {
    server?.kill();
    await store?.remove();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('answers every request it accepted at c=32: zero resets, 200s before the signal, then 503 or a refused connection', async () => {
    server = await startServerProcess(store, dir, ['mlp=mlp.mar']);
    const url = `${server.inference}/predictions/mlp`;
    const body = JSON.stringify({ inputs: { input: [Array.from({ length: 16 }, (_, i) => i / 16)] } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const outcomes: Outcome[] = [];
    let signalled = false;
    const clients = Array.from({ length: 32 }, async () => {
      for (;;) {
        const o = await post(url, agent, body);
        outcomes.push(o);
        if (o.error === 'ECONNREFUSED' || (o.error && signalled)) return;
        if (o.error) return; // a reset before the signal is counted below too
      }
    });
    // Let the load run until a few hundred requests were answered, then stop the server under it.
    while (outcomes.filter((o) => o.status === 200).length < 300) await new Promise((r) => setTimeout(r, 20));
    signalled = true;
    process.kill(server.pid, 'SIGTERM');
    await Promise.all(clients);
    await server.exited();
    agent.destroy();

    const errors = outcomes.filter((o) => o.error !== undefined && o.error !== 'ECONNREFUSED').map((o) => o.error);
    expect(errors, 'requests reset or cut instead of answered').to.deep.equal([]);
    const statuses = new Set(outcomes.filter((o) => o.status !== undefined).map((o) => o.status));
    expect([...statuses].every((s) => s === 200 || s === 503)).to.equal(true);
    for (const o of outcomes.filter((x) => x.status === 503)) {
      expect(o.body).to.contain('stopping');
      expect(o.connection).to.equal('close');
    }
    expect(outcomes.filter((o) => o.error === 'ECONNREFUSED')).to.have.length(32); // each client ends on a refused connect
    expect(alive(server.pid)).to.equal(false);
    await fs.access(server.pidFile).then(
      () => expect.fail('the pid file is still there'),
      () => {},
    );
  });
});
