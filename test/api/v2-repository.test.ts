import { expect } from 'chai';
import { addOne, twoInputs } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

async function post(server: RunningServer, path: string, body?: unknown) {
  const res = await fetch(`${server.inferenceUrl}${path}`, {
    method: 'POST',
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  });
  return { status: res.status, json: (await res.json()) as unknown };
}

const twoInfer = {
  inputs: [
    { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
    { name: 'b', shape: [1, 3], datatype: 'FP32', data: [1, 1, 1] },
  ],
  outputs: [{ name: 'sum' }],
};

describe("Open Inference Protocol v2: Triton's model repository extension", function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'add', model: addOne(), handler: 'echo.js' });
    await store.add({ name: 'two', model: twoInputs(), handler: 'echo.js' });
    server = await startTestServer(store, ['add.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('indexes the loaded versions and the store archives not loaded', async () => {
    const all = await post(server, '/v2/repository/index');
    expect(all).to.deep.equal({
      status: 200,
      json: [
        { name: 'add', version: '1.0', state: 'READY' },
        { name: 'two', state: 'UNAVAILABLE', reason: 'unloaded' },
      ],
    });
    const ready = await post(server, '/v2/repository/index', { ready: true });
    expect(ready.json).to.deep.equal([{ name: 'add', version: '1.0', state: 'READY' }]);
  });

  it('loads a model from the store, serves it, and unloads it', async () => {
    expect((await post(server, '/v2/models/two/infer', twoInfer)).status).to.equal(404);
    expect(await post(server, '/v2/repository/models/two/load')).to.deep.equal({ status: 200, json: { name: 'two', load: true } });
    const res = await post(server, '/v2/models/two/infer', twoInfer);
    expect(res.status).to.equal(200);
    expect((res.json as { outputs: Array<{ data: number[] }> }).outputs[0].data).to.deep.equal([2, 3, 4]);
    expect((await post(server, '/v2/repository/index', { ready: true })).json).to.deep.equal([
      { name: 'add', version: '1.0', state: 'READY' },
      { name: 'two', version: '1.0', state: 'READY' },
    ]);
    // Loading a loaded model again is fine.
    expect((await post(server, '/v2/repository/models/two/load', {})).status).to.equal(200);
    expect(await post(server, '/v2/repository/models/two/unload')).to.deep.equal({ status: 200, json: { name: 'two', unload: true } });
    expect((await post(server, '/v2/models/two/infer', twoInfer)).status).to.equal(404);
    expect((await post(server, '/v2/repository/index')).json).to.deep.include({ name: 'two', state: 'UNAVAILABLE', reason: 'unloaded' });
  });

  it('refuses what it cannot do with {"error"} and the right status', async () => {
    expect(await post(server, '/v2/repository/models/nope/load')).to.deep.equal({
      status: 404,
      json: { error: 'model "nope" is not in the model store (no nope.mar)' },
    });
    expect(await post(server, '/v2/repository/models/nope/unload')).to.deep.equal({ status: 404, json: { error: 'Model not found: nope' } });
    const config = await post(server, '/v2/repository/models/two/load', { parameters: { config: '{}' } });
    expect(config.status).to.equal(400);
    expect((config.json as { error: string }).error).to.match(/two.mar: a model config given at load applies to Triton repository models/);
    const broken = await post(server, '/v2/repository/index', '{"ready": ');
    expect(broken.status).to.equal(400);
    expect((broken.json as { error: string }).error).to.match(/not valid JSON/);
    const notBool = await post(server, '/v2/repository/index', { ready: 'yes' });
    expect(notBool).to.deep.equal({ status: 400, json: { error: '"ready" must be true or false' } });
  });
});
