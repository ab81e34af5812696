import { expect } from 'chai';
import path from 'node:path';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
async function call(server: RunningServer, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.inferenceUrl}${p}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

// The model takes x [N,4] and gives y [N,4]; its config speaks [N,2,2] on both sides.
const CONFIG = `max_batch_size: 4
input [ { name: "x" data_type: TYPE_FP32 dims: [ 2, 2 ] reshape: { shape: [ 4 ] } } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 2, 2 ] reshape: { shape: [ 4 ] } } ]
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }`;

describe("Triton's reshape: clients speak the config's dims, the model runs on its own", function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), { square: { config: CONFIG, versions: { '1': addOne() } } });
    server = await startTestServer(store, [], { model_repository: repo });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('takes inputs and gives outputs in the config dims, and says so in the metadata', async () => {
    const r = await call(server, 'POST', '/v2/models/square/infer', { inputs: [{ name: 'x', shape: [1, 2, 2], datatype: 'FP32', data: [[[1, 2], [3, 4]]] }] });
    expect(r.json.outputs).to.deep.equal([{ name: 'y', datatype: 'FP32', shape: [1, 2, 2], data: [2, 3, 4, 5] }]);
    const meta = await call(server, 'GET', '/v2/models/square');
    expect(meta.json.inputs).to.deep.equal([{ name: 'x', datatype: 'FP32', shape: [-1, 2, 2] }]);
    expect(meta.json.outputs).to.deep.equal([{ name: 'y', datatype: 'FP32', shape: [-1, 2, 2] }]);
    const described = (await (await fetch(`${server.managementUrl}/models/square`)).json()) as Array<{ intraOpThreads: number }>;
    expect(described[0].intraOpThreads).to.equal(1); // parameters.intra_op_thread_count
  });

  it("refuses a shape that is not the config's, naming it", async () => {
    const r = await call(server, 'POST', '/v2/models/square/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
    expect(r).to.deep.equal({ status: 400, json: { error: 'input "x": model "square" expects shape [-1,2,2], got [1,4]' } });
  });
});
