import fs from 'node:fs';
import { expect } from 'chai';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { everyType } from '../helpers/v2-models.ts';

async function get(server: RunningServer, path: string) {
  const res = await fetch(`${server.inferenceUrl}${path}`);
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

describe('Open Inference Protocol v2: server and model metadata, health', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'add', model: addOne(), handler: 'echo.js' });
    await store.add({ name: 'add2', version: '2.0', model: addOne(), handler: 'echo.js' });
    await store.add({ name: 'every', model: everyType(), handler: 'echo.js' });
    await store.add({ name: 'plain', handler: 'echo.js' });
    await store.add({ name: 'idle', model: addOne(), handler: 'echo.js', config: 'minWorkers: 0\nmaxWorkers: 1\n' });
    server = await startTestServer(store, ['add.mar', 'add=add2.mar', 'every.mar', 'plain.mar', 'idle.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('describes the server: name, package version and the extensions it implements', async () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const res = await get(server, '/v2');
    expect(res.status).to.equal(200);
    expect(res.json).to.deep.equal({ name: 'modelserver', version: pkg.version, extensions: ['binary_tensor_data', 'model_repository', 'model_configuration', 'statistics', 'classification'] });
  });

  it('answers liveness and readiness with 200', async () => {
    expect(await get(server, '/v2/health/live')).to.deep.include({ status: 200, json: { live: true } });
    expect(await get(server, '/v2/health/ready')).to.deep.include({ status: 200, json: { ready: true } });
  });

  it('describes a model: every version, the platform, inputs and outputs with -1 for dynamic dimensions', async () => {
    const expected = {
      name: 'add',
      versions: ['1.0', '2.0'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 4] }],
    };
    expect((await get(server, '/v2/models/add')).json).to.deep.equal(expected);
    expect((await get(server, '/v2/models/add/versions/2.0')).json).to.deep.equal(expected);
    expect(await get(server, '/v2/models/add/versions/3.0')).to.deep.include({
      status: 404,
      json: { error: 'Model version: 3.0 does not exist for model: add' },
    });
  });

  it('names every datatype as v2 does', async () => {
    const res = await get(server, '/v2/models/every');
    const inputs = res.json.inputs as Array<{ name: string; datatype: string; shape: number[] }>;
    expect(inputs.map((i) => i.datatype)).to.deep.equal(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']);
    expect(inputs.every((i) => i.name === `in_${i.datatype}` && i.shape.join() === '-1,2')).to.equal(true);
  });

  it('describes a model without an ONNX file with no inputs or outputs', async () => {
    expect((await get(server, '/v2/models/plain')).json).to.deep.include({ name: 'plain', inputs: [], outputs: [] });
  });

  it('says whether a model is ready through the status: 200, or 400 with no worker', async () => {
    for (const path of ['/v2/models/add/ready', '/v2/models/add/versions/2.0/ready']) {
      expect(await get(server, path)).to.deep.include({ status: 200, json: { name: 'add', ready: true } });
    }
    expect(await get(server, '/v2/models/idle/ready')).to.deep.include({ status: 400, json: { name: 'idle', ready: false } });
    expect(await get(server, '/v2/models/nope/ready')).to.deep.include({ status: 404, json: { error: 'Model not found: nope' } });
  });

  it('answers 503 with Retry-After for inference on a model without a worker', async () => {
    const res = await fetch(`${server.inferenceUrl}/v2/models/idle/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
    });
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.equal('1');
    expect(((await res.json()) as { error: string }).error).to.match(/model "idle" has no worker/);
  });
});
