import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

async function predict(server: RunningServer, model: string, body: unknown, type = 'application/json') {
  const res = await fetch(`${server.inferenceUrl}/v1/models/${model}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': type },
  });
  return { status: res.status, json: (await res.json()) as { predictions?: unknown[]; error?: string } };
}

describe('KServe v1 protocol', function () {
  let store: TestStore;
  let server: RunningServer;
  let gates: string;

  before(async () => {
    store = await TestStore.create();
    gates = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-v1-gate-'));
    await store.add({ name: 'add', model: addOne(), handler: 'hooks-object.js', config: 'batchSize: 4\n' });
    await store.add({ name: 'inst', handler: 'v1-instances.js', config: 'batchSize: 8\nmaxBatchDelay: 100\n' });
    server = await startTestServer(store, ['add.mar', 'inst.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
    await fs.rm(gates, { recursive: true, force: true });
  });

  it('predicts each instance through the handler hooks, in order', async () => {
    const res = await predict(server, 'add:predict', { instances: [{ x: [1, 2, 3, 4] }, { x: [0, 0, 0, 0] }, { x: [-1, -1, -1, -1] }] });
    expect(res).to.deep.equal({ status: 200, json: { predictions: [{ y: [2, 3, 4, 5] }, { y: [1, 1, 1, 1] }, { y: [0, 0, 0, 0] }] } });
  });

  it('hands each instance to the handler as JSON data, batched like any requests', async () => {
    const flag = path.join(gates, 'open');
    const gate = fetch(`${server.inferenceUrl}/predictions/inst`, {
      method: 'POST',
      body: JSON.stringify({ waitFor: flag }),
      headers: { 'content-type': 'application/json' },
    });
    const batcher = server.registry.get('inst').batcher;
    while (batcher.active !== 1) await new Promise((r) => setTimeout(r, 2));
    const call = predict(server, 'inst:predict', { instances: [{ value: 1 }, { value: 2 }, { value: 3 }] });
    while (batcher.pending !== 3) await new Promise((r) => setTimeout(r, 2));
    await fs.writeFile(flag, '');
    await gate;
    const res = await call;
    expect(res.status).to.equal(200);
    expect(res.json.predictions).to.deep.equal([1, 2, 3].map((v) => ({ double: v * 2, batch: 3, contentType: 'application/json' })));
  });

  it('accepts an encoded colon, returns bytes as b64, and an empty list for no instances', async () => {
    expect((await predict(server, 'inst%3Apredict', { instances: [{ value: 5 }] })).json.predictions).to.deep.equal([
      { double: 10, batch: 1, contentType: 'application/json' },
    ]);
    expect((await predict(server, 'inst:predict', { instances: [{ bytes: true }] })).json).to.deep.equal({ predictions: [{ b64: 'AQID' }] });
    expect((await predict(server, 'inst:predict', { instances: [] })).json).to.deep.equal({ predictions: [] });
  });

  it('fails the whole call with the status and message of an instance that fails', async () => {
    const res = await predict(server, 'inst:predict', { instances: [{ value: 1 }, { value: 2, fail: 422 }, { value: 3 }] });
    expect(res).to.deep.equal({ status: 422, json: { error: 'instance 2 asked to fail' } });
  });

  it('refuses bad requests with {"error"}', async () => {
    const cases: Array<[string, unknown, string | undefined, number, RegExp]> = [
      ['no instances', { inputs: [1] }, undefined, 400, /must be \{"instances": \[\.\.\.\]\}/],
      ['instances not a list', { instances: 5 }, undefined, 400, /must be \{"instances"/],
      ['not JSON', '{"instances": [', undefined, 400, /not valid JSON/],
      ['not a JSON type', 'a,b', 'text/csv', 415, /content type "text\/csv" is not supported/],
    ];
    for (const [what, body, type, status, message] of cases) {
      const res = await predict(server, 'inst:predict', body, type);
      expect(res.status, what).to.equal(status);
      expect(res.json.error, what).to.match(message);
    }
    expect(await predict(server, 'nope:predict', { instances: [] })).to.deep.equal({ status: 404, json: { error: 'Model not found: nope' } });
    const explain = await predict(server, 'inst:explain', { instances: [] });
    expect(explain).to.deep.equal({ status: 501, json: { error: 'model "inst" has no explainer: :explain is not supported' } });
    const verb = await predict(server, 'inst:classify', { instances: [] });
    expect(verb.status).to.equal(404);
    expect(verb.json.error).to.match(/use \/v1\/models\/inst:predict/);
    expect((await predict(server, 'inst', { instances: [] })).status).to.equal(404);
  });

  it('tells whether a model is ready, and lists the models', async () => {
    const ready = await fetch(`${server.inferenceUrl}/v1/models/add`);
    expect([ready.status, await ready.json()]).to.deep.equal([200, { name: 'add', ready: true }]);
    const missing = await fetch(`${server.inferenceUrl}/v1/models/nope`);
    expect([missing.status, await missing.json()]).to.deep.equal([404, { error: 'Model not found: nope' }]);
    const list = await fetch(`${server.inferenceUrl}/v1/models`);
    expect(await list.json()).to.deep.equal({ models: ['add', 'inst'] });
  });
});
