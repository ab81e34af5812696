import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunningServer } from '../../src/server.ts';
import { describeModel as describe1, startTestServer, TestStore } from '../helpers/server.ts';

interface Res {
  status: number;
  body: Record<string, unknown>;
}

async function predict(server: RunningServer, model: string, query: string): Promise<Res> {
  const res = await fetch(`${server.inferenceUrl}/predictions/${model}?${query}`, { method: 'POST', body: 'x' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('reliability: timeouts and worker deaths', function () {
  let store: TestStore;
  let server: RunningServer;
  let tmp: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-rel-'));
    store = await TestStore.create();
    await store.add({ name: 'dies', handler: 'dies.js', config: 'minWorkers: 2\nmaxWorkers: 2\n' });
    await store.add({ name: 'fragile', handler: 'dies.js', config: `minWorkers: 1\nmaxWorkers: 1\nbrokenMarker: ${JSON.stringify(path.join(tmp, 'broken'))}\n` });
    await store.add({ name: 'slow', handler: 'dies.js', config: 'minWorkers: 2\nmaxWorkers: 2\nresponseTimeout: 1\n' });
    server = await startTestServer(store, ['dies.mar', 'fragile.mar', 'slow.mar'], {}, {
      restart: { backoff: () => 0, maxDeaths: 6, deathWindowMs: 60_000 },
    });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('answers a request whose worker hangs with 504, replaces the worker, and serves the others', async () => {
    const hung = predict(server, 'slow', 'die=hang');
    const others = await Promise.all([1, 2, 3].map(() => predict(server, 'slow', 'ok=1')));
    expect(others.map((r) => r.status)).to.deep.equal([200, 200, 200]);
    const res = await hung;
    expect(res.status).to.equal(504);
    expect(res.body.message).to.contain('did not respond within 1 s').and.contain('slow');
    await until(async () => (await describe1(server, 'slow')).workers.length === 2, 'the replacement worker');
    expect((await predict(server, 'slow', 'ok=1')).status).to.equal(200);
  });

  it('retries a batch once on another worker when its worker dies', async () => {
    const marker = path.join(tmp, 'died-once');
    const res = await predict(server, 'dies', `die=once&marker=${encodeURIComponent(marker)}`);
    expect(res.status).to.equal(200);
    expect(fs.existsSync(marker)).to.equal(true);
  });

  it('answers 500 naming the model, the request and the cause when the request kills its worker alone too, and recovers to its minimum', async () => {
    const res = await predict(server, 'dies', 'die=exit');
    expect(res.status).to.equal(500);
    expect(res.body.message).to.contain('"dies"').and.contain('worker died').and.contain('killed its worker each time it ran');
    await until(async () => (await describe1(server, 'dies')).workers.length === 2, 'two workers again');
    expect((await predict(server, 'dies', 'ok=1')).status).to.equal(200);
  });

  it('replaces a worker killed by an error thrown outside any hook', async () => {
    expect((await predict(server, 'dies', 'die=uncaught')).status).to.equal(200);
    await new Promise((r) => setTimeout(r, 100));
    await until(async () => {
      const d = await describe1(server, 'dies');
      return d.workers.length === 2 && d.workers.every((w: { status: string }) => w.status === 'READY');
    }, 'the pool back at two ready workers');
    const results = await Promise.all([1, 2, 3, 4].map(() => predict(server, 'dies', 'ok=1')));
    expect(results.map((r) => r.status)).to.deep.equal([200, 200, 200, 200]);
  });

  it('marks a model whose workers keep dying FAILED with the reason instead of looping, and a scale call brings it back', async () => {
    // die=break breaks the model itself: every replacement fails to load, deaths no request explains.
    const r = await predict(server, 'fragile', 'die=break');
    expect([500, 503]).to.include(r.status);
    await until(async () => (await describe1(server, 'fragile')).state === 'FAILED', 'FAILED');
    const d = await describe1(server, 'fragile');
    expect(d.failureReason).to.contain('died').and.contain('times');
    const after = await predict(server, 'fragile', 'ok=1');
    expect(after.status).to.equal(503);
    expect(after.body.message).to.contain('failed');
    expect((await fetch(`${server.inferenceUrl}/ping`)).status).to.equal(500);
    // Fixed (the marker is gone): a scale call restarts the workers, as TorchServe's does.
    fs.rmSync(path.join(tmp, 'broken'));
    const scaled = await fetch(`${server.managementUrl}/models/fragile?min_worker=1&synchronous=true`, { method: 'PUT' });
    expect(scaled.status).to.equal(200);
    expect((await describe1(server, 'fragile')).state).to.equal('READY');
    expect((await predict(server, 'fragile', 'ok=1')).status).to.equal(200);
    expect((await fetch(`${server.inferenceUrl}/ping`)).status).to.equal(200);
  });
});

describe('reliability: a worker past its heap limit', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'hungry', handler: 'dies.js', config: 'minWorkers: 1\nmaxWorkers: 1\n' });
    server = await startTestServer(store, ['hungry.mar'], { worker_max_heap_mb: '64' }, { restart: { backoff: () => 0, maxDeaths: 10 } });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('answers 507 naming the model, and comes back with a fresh worker', async () => {
    const res = await predict(server, 'hungry', 'die=oom');
    expect(res.status).to.equal(507);
    expect(res.body.message).to.contain('"hungry"').and.match(/memory/i);
    await until(async () => (await describe1(server, 'hungry')).workers.length === 1, 'a fresh worker');
    expect((await predict(server, 'hungry', 'ok=1')).status).to.equal(200);
  });
});

describe('reliability: chaos', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'chaos', handler: 'dies.js', config: 'minWorkers: 2\nmaxWorkers: 2\nbatchSize: 4\n' });
    server = await startTestServer(store, ['chaos.mar'], {}, { restart: { backoff: () => 0, maxDeaths: 1000 } });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('gives every request exactly one response while workers are killed again and again', async () => {
    const total = 120;
    let next = 0;
    const statuses: number[] = [];
    const clients = Array.from({ length: 6 }, async () => {
      while (next < total) {
        next++;
        const res = await fetch(`${server.inferenceUrl}/predictions/chaos?die=chaos&p=0.15`, { method: 'POST', body: 'x' });
        await res.json();
        statuses.push(res.status);
      }
    });
    await Promise.all(clients);
    expect(statuses).to.have.length(total);
    expect(statuses.every((s) => s === 200 || s === 500 || s === 503)).to.equal(true);
    expect(statuses.filter((s) => s === 200).length).to.be.greaterThan(total / 2);
    await until(async () => {
      const d = await describe1(server, 'chaos');
      return d.workers.length === 2 && d.workers.every((w: { status: string }) => w.status === 'READY');
    }, 'the pool back at its minimum');
  });
});
