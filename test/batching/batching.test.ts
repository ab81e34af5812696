import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import type { RunningServer } from '../../src/server.ts';
import { describeModel as describe1, startTestServer, TestStore } from '../helpers/server.ts';

async function post(server: RunningServer, model: string, query: string, body: Uint8Array | string = 'x', type = 'application/octet-stream') {
  const res = await fetch(`${server.inferenceUrl}/predictions/${model}?${query}`, { method: 'POST', body, headers: { 'content-type': type } });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('dynamic batching, queue limits and autoscaling', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    // max_batch_delay far above mocha's timeout: a request that waited for it would fail the test.
    await store.add({ name: 'batches', handler: 'batch-recorder.js', config: 'minWorkers: 1\nmaxWorkers: 1\nbatchSize: 4\nmaxBatchDelay: 120000\n' });
    await store.add({ name: 'tiny-queue', handler: 'batch-recorder.js', config: 'minWorkers: 1\nmaxWorkers: 1\nbatchSize: 1\njobQueueSize: 2\n' });
    await store.add({ name: 'elastic', handler: 'batch-recorder.js', config: 'minWorkers: 1\nmaxWorkers: 3\nbatchSize: 1\n' });
    await store.add({ name: 'bytes', handler: 'batch-recorder.js', config: 'minWorkers: 1\nmaxWorkers: 1\n' });
    server = await startTestServer(store, ['batches.mar', 'tiny-queue.mar', 'elastic.mar', 'bytes.mar'], { max_request_size: String(25 * 1024 * 1024) }, {
      autoscale: { upAfterMs: 100, downAfterMs: 400 },
    });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('sends a lone request at once, without waiting for max_batch_delay', async () => {
    const res = await post(server, 'batches', 'id=alone');
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ id: 'alone', batch: 1 });
  });

  it('lets requests that queue while the worker is busy share batches up to batch_size, each getting its own result', async () => {
    const busy = post(server, 'batches', 'id=first&sleep=300');
    await new Promise((r) => setTimeout(r, 50));
    const ids = Array.from({ length: 8 }, (_, i) => `r${i}`);
    const results = await Promise.all(ids.map((id) => post(server, 'batches', `id=${id}&sleep=50`)));
    expect((await busy).body.batch).to.equal(1);
    expect(results.map((r) => r.body.id)).to.deep.equal(ids);
    const sizes = results.map((r) => r.body.batch as number);
    expect(Math.max(...sizes)).to.equal(4);
    expect(sizes.every((s) => s <= 4)).to.equal(true);
    // Within each batch, every request has its own place.
    for (const r of results) expect(r.body.index).to.be.below(r.body.batch);
  });

  it('answers 503 with Retry-After past job_queue_size, and counts it in a metric', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => post(server, 'tiny-queue', `id=${i}&sleep=150`)));
    const refused = results.filter((r) => r.status === 503);
    expect(refused.length).to.be.greaterThan(0);
    expect(results.filter((r) => r.status === 200).length).to.be.greaterThan(0);
    for (const r of refused) {
      expect(r.headers.get('retry-after')).to.equal('1');
      expect(r.body.message).to.contain('queue is full');
    }
    const metrics = await (await fetch(`${server.metricsUrl}/metrics?name[]=modelserver_queue_full_total`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('modelserver_queue_full_total{') && l.includes('tiny-queue'));
    expect(Number(line?.split(' ').pop())).to.equal(refused.length);
    expect((await describe1(server, 'tiny-queue')).jobQueueStatus.pendingRequests).to.equal(0);
  });

  it('adds workers by itself under a sustained queue and removes them when idle', async () => {
    expect((await describe1(server, 'elastic')).workers).to.have.length(1);
    let peak = 1;
    let stop = false;
    const load = Array.from({ length: 6 }, async () => {
      while (!stop) await post(server, 'elastic', 'sleep=40');
    });
    for (let i = 0; i < 200 && peak < 3; i++) {
      await new Promise((r) => setTimeout(r, 25));
      peak = Math.max(peak, (await describe1(server, 'elastic')).workers.length);
    }
    stop = true;
    await Promise.all(load);
    expect(peak).to.equal(3);
    let workers = 3;
    for (let i = 0; i < 400 && workers > 1; i++) {
      await new Promise((r) => setTimeout(r, 25));
      workers = (await describe1(server, 'elastic')).workers.filter((w: { status: string }) => w.status === 'READY').length;
    }
    expect(workers).to.equal(1);
    const d = await describe1(server, 'elastic');
    expect(d).to.include({ minWorkers: 1, maxWorkers: 3 });
  });

  for (const size of [0, 1, 4095, 4097, 65536, 1024 * 1024 + 7, 20 * 1024 * 1024]) {
    it(`delivers ${size} request bytes to the worker unchanged (raw body and multipart)`, async () => {
      const bytes = new Uint8Array(randomBytes(size));
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const raw = await post(server, 'bytes', 'digest=1', bytes);
      expect(raw.status).to.equal(200);
      expect(raw.body).to.deep.equal({ length: size, sha256 });
      const form = new FormData();
      form.append('data', new Blob([bytes]), 'blob.bin');
      const res = await fetch(`${server.inferenceUrl}/predictions/bytes?digest=1`, { method: 'POST', body: form });
      expect(await res.json()).to.deep.equal({ length: size, sha256 });
    });
  }
});
