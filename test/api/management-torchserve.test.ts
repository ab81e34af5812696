/**
 * Where the management API meets a TorchServe user's habits (issue 15, point 7): `runtime` is validated,
 * `startup_timeout` fails a registration whose workers do not load in time (500, as TorchServe), and bad numbers
 * stay 400s (TorchServe silently takes its defaults; README "Where we differ").
 */
import { expect } from 'chai';
import { mlp } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

describe('management API: runtime, startup_timeout and bad numbers as TorchServe users send them', function () {
  let store: TestStore;
  let server: RunningServer;
  const post = (query: string) => fetch(`${server.managementUrl}/models?${query}`, { method: 'POST' });

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'mlp', model: mlp(), handler: 'tensor' });
    await store.add({ name: 'slow', model: mlp(), handler: 'slow-init.js', config: 'initDelayMs: 5000\n' });
    server = await startTestServer(store, []);
  });
  after(async () => {
    await server.stop();
    await store.remove();
  });

  it('runtime=python4 is a 400 naming the parameter and the one runtime; runtime=node registers', async () => {
    for (const runtime of ['python4', 'python']) {
      const res = await post(`url=mlp.mar&runtime=${runtime}`);
      expect(res.status).to.equal(400);
      const body = (await res.json()) as { message: string };
      expect(body.message).to.contain(`runtime = "${runtime}"`).and.contain('"node"');
    }
    const ok = await post('url=mlp.mar&runtime=node');
    expect(ok.status).to.equal(200);
    await fetch(`${server.managementUrl}/models/mlp`, { method: 'DELETE' });
  });

  it('startup_timeout=1 with a handler that takes 5 s to initialize: 500 naming startup_timeout, nothing left registered', async () => {
    const res = await post('url=slow.mar&startup_timeout=1&initial_workers=1');
    expect(res.status).to.equal(500);
    const body = (await res.json()) as { message: string };
    expect(body.message).to.contain('did not load within 1 s (startup_timeout)');
    const list = (await (await fetch(`${server.managementUrl}/models`)).json()) as { models: unknown[] };
    expect(list.models).to.deep.equal([]);
  });

  it('bad numbers stay 400s with the parameter named (TorchServe takes its defaults)', async () => {
    for (const [query, param] of [['url=mlp.mar&batch_size=dd', 'batch_size'], ['url=mlp.mar&startup_timeout=0', 'startup_timeout'], ['url=mlp.mar&synchronous=nan', 'synchronous']]) {
      const res = await post(query);
      expect(res.status, query).to.equal(400);
      expect(((await res.json()) as { message: string }).message).to.contain(`parameter ${param}`);
    }
    const list = await fetch(`${server.managementUrl}/models?limit=-1`);
    expect(list.status).to.equal(400);
  });
});
