import { expect } from 'chai';
import net from 'node:net';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

async function gauge(server: RunningServer, name: string, model: string): Promise<number> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`model_name="${model}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}
const queueDepth = (server: RunningServer, model: string) => gauge(server, 'modelserver_queue_depth', model);
const running = async (server: RunningServer, model: string) => (await gauge(server, 'modelserver_requests_in_flight', model)) > 0;

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('reliability: overload', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    const one = 'minWorkers: 1\nmaxWorkers: 1\nbatchSize: 1\n';
    await store.add({ name: 'timed', handler: 'counter.js', config: `${one}queueTimeout: 100\n` });
    await store.add({ name: 'defaulted', handler: 'counter.js', config: one });
    await store.add({ name: 'untimed', handler: 'counter.js', config: `${one}queueTimeout: 0\n` });
    await store.add({ name: 'dropped', handler: 'counter.js', config: one });
    await store.add({ name: 'fromjson', handler: 'counter.js', config: one });
    server = await startTestServer(store, ['timed.mar', 'defaulted.mar', 'untimed.mar', 'dropped.mar', 'fromjson.mar'], {
      models: JSON.stringify({ fromjson: { '1.0': { queueTimeout: 120 } } }),
      default_queue_timeout_ms: '150',
      max_connections: '8',
    });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  const predict = async (model: string, query: string, signal?: AbortSignal) => {
    const res = await fetch(`${server.inferenceUrl}/predictions/${model}?${query}`, { method: 'POST', body: 'x', signal });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
  };

  it("answers 503 to requests that waited past the model's queue timeout, without running them", async () => {
    const busy = predict('timed', 'sleep=1500');
    await until(() => running(server, 'timed'), 'the worker to be busy');
    const queued = await Promise.all([1, 2, 3].map(() => predict('timed', 'x=1')));
    expect((await busy).status).to.equal(200);
    for (const q of queued) {
      expect(q.status).to.equal(503);
      expect(q.retryAfter).to.equal('1');
      expect(q.body.message).to.match(/waited \d+ ms in the queue, past the model's queue timeout of 100 ms/);
    }
    const count = await predict('timed', 'count=1');
    expect(count.body).to.deep.equal({ ran: 1 }); // only the busy one ran
  });

  it("takes default_queue_timeout_ms when the model sets none, the models JSON's queueTimeout, and queueTimeout: 0 turns it off", async () => {
    const models = ['defaulted', 'untimed', 'fromjson'];
    const busy = models.map((m) => predict(m, 'sleep=800'));
    await until(async () => (await Promise.all(models.map((m) => running(server, m)))).every(Boolean), 'the workers to be busy');
    const [late, waited, json] = await Promise.all(models.map((m) => predict(m, 'x=1')));
    expect(late.status).to.equal(503);
    expect(late.body.message).to.contain('queue timeout of 150 ms');
    expect(waited.status).to.equal(200);
    expect(json.status).to.equal(503);
    expect(json.body.message).to.contain('queue timeout of 120 ms');
    for (const b of busy) expect((await b).status).to.equal(200);
  });

  it('drops queued work whose client disconnected: it never runs', async () => {
    const busy = predict('dropped', 'sleep=800');
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const gone = controllers.map((c) => predict('dropped', 'x=1', c.signal).catch((e: Error) => e.name));
    await until(async () => (await queueDepth(server, 'dropped')) === 5, 'five requests queued');
    for (const c of controllers) c.abort();
    expect(await Promise.all(gone)).to.deep.equal(Array(5).fill('AbortError'));
    await until(async () => (await queueDepth(server, 'dropped')) === 0, 'the queue to empty');
    expect((await busy).status).to.equal(200);
    expect((await predict('dropped', 'count=1')).body).to.deep.equal({ ran: 1 });
  });

  it('drops queued KServe v1 and v2 work whose client disconnected', async () => {
    const before = (await predict('dropped', 'count=1')).body.ran as number;
    const busy = predict('dropped', 'sleep=800');
    await until(() => running(server, 'dropped'), 'the worker to be busy');
    const v2 = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] });
    const sends = [
      [`/v1/models/dropped:predict`, JSON.stringify({ instances: [1, 2] })],
      [`/v2/models/dropped/infer`, v2],
      [`/v2/models/dropped/infer`, v2],
    ].map(([p, body]) => {
      const c = new AbortController();
      const done = fetch(`${server.inferenceUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: c.signal }).catch((e: Error) => e.name);
      return { c, done };
    });
    await until(async () => (await queueDepth(server, 'dropped')) === 4, 'four requests queued (two v1 instances, two v2)');
    for (const s of sends) s.c.abort();
    expect(await Promise.all(sends.map((s) => s.done))).to.deep.equal(['AbortError', 'AbortError', 'AbortError']);
    await until(async () => (await queueDepth(server, 'dropped')) === 0, 'the queue to empty');
    expect((await busy).status).to.equal(200);
    const count = await predict('dropped', 'count=1');
    expect(count.body.ran).to.equal(before + 2); // the first count request and the busy one; none of the aborted ones
  });

  it('closes connections past max_connections at once, and takes new ones when others close', async () => {
    const { hostname, port } = new URL(server.inferenceUrl);
    const open = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const s = net.connect(Number(port), hostname, () => resolve(s));
        s.once('error', reject);
      });
    const held = await Promise.all(Array.from({ length: 8 }, open));
    await new Promise((r) => setTimeout(r, 50));
    const extra = await open();
    const fate = await new Promise<string>((resolve) => {
      extra.on('data', () => resolve('answered'));
      extra.on('close', () => resolve('closed'));
      extra.on('error', () => {});
      extra.write(`GET /ping HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
    });
    expect(fate).to.equal('closed');
    for (const s of held) s.destroy();
    await until(async () => (await fetch(`${server.inferenceUrl}/ping`).then((r) => r.status, () => 0)) === 200, 'a connection to be taken');
  });
});
