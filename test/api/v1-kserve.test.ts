import { expect } from 'chai';
import path from 'node:path';
import { addOne, twoInputs } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { identity } from '../helpers/v2-models.ts';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** `x` FP32 [N,2] → `sum` [N] (ReduceSum over axis 1) and `twice` [N,2]: two outputs of different ranks. */
function twoOutputs(): Uint8Array {
  const vi = (name: string, dims: Array<number | string>) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'two_outputs',
        input: [vi('x', ['N', 2])],
        output: [vi('sum', ['N']), vi('twice', ['N', 2])],
        initializer: [
          { name: 'axes', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1] },
          { name: 'two', dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [2] },
        ],
        node: [
          { opType: 'ReduceSum', input: ['x', 'axes'], output: ['sum'], name: 'rs', attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
          { opType: 'Mul', input: ['x', 'two'], output: ['twice'], name: 'mul' },
        ],
      },
    }),
  ).finish();
}

async function send(server: RunningServer, method: string, p: string, body?: unknown) {
  const res = await fetch(`${server.inferenceUrl}${p}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('content-type'), json: (await res.json()) as unknown };
}

describe("KServe v1 as KServe's clients send it", function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'archived', model: addOne(), handler: 'tensor' });
    await store.add({ name: 'pair', model: twoInputs(), handler: 'tensor' });
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      adder: { bare: addOne() },
      outputs2: { bare: twoOutputs() },
      words: { bare: identity('BYTES', ['N', 2]) },
      big: { bare: identity('INT64', ['N', 1]) },
    });
    server = await startTestServer(store, ['archived.mar', 'pair.mar'], { model_repository: repo });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('stacks the rows of a single-input model into one tensor and answers its rows as predictions', async () => {
    for (const model of ['adder', 'archived']) {
      const r = await send(server, 'POST', `/v1/models/${model}:predict`, { instances: [[1, 2, 3, 4], [0, 0, 0, 0]] });
      expect(r, model).to.deep.equal({ status: 200, type: 'application/json; charset=utf-8', json: { predictions: [[2, 3, 4, 5], [1, 1, 1, 1]] } });
    }
    const stats = (await (await fetch(`${server.inferenceUrl}/v2/models/adder/stats`)).json()) as { model_stats: Array<{ inference_count: number; inference_stats: { success: { count: number } } }> };
    expect(stats.model_stats[0].inference_count).to.equal(2); // one request of two rows
    expect(stats.model_stats[0].inference_stats.success.count).to.equal(1);
  });

  it('answers one object per row for several outputs; strings and 64-bit integers stay exact', async () => {
    const r = await send(server, 'POST', '/v1/models/outputs2:predict', { instances: [[1, 2], [3, 4]] });
    expect(r.json).to.deep.equal({ predictions: [{ sum: 3, twice: [2, 4] }, { sum: 7, twice: [6, 8] }] });
    expect((await send(server, 'POST', '/v1/models/words:predict', { instances: [['a', 'b']] })).json).to.deep.equal({ predictions: [['a', 'b']] });
    const res = await fetch(`${server.inferenceUrl}/v1/models/big:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"instances": [["9007199254740993"]]}' });
    expect(await res.text()).to.equal('{"predictions":[[9007199254740993]]}');
  });

  it('keeps per-instance handler requests for objects and for models with several inputs', async () => {
    const r = await send(server, 'POST', '/v1/models/pair:predict', { instances: [{ inputs: { a: [[1, 1, 1]], b: [[2, 2, 2]] } }] });
    expect(r.json).to.deep.equal({ predictions: [{ outputs: { sum: [[3, 3, 3]], prod: [[2, 2, 2]] } }] });
  });

  it('refuses rows that do not fit the model with a 400 whose JSON body has exactly application/json', async () => {
    const r = await send(server, 'POST', '/v1/models/adder:predict', { instances: [[1, 2, 3]] });
    expect(r.status).to.equal(400);
    expect(r.type).to.equal('application/json');
    expect((r.json as { error: string }).error).to.match(/input "x"/);
    const ragged = await send(server, 'POST', '/v1/models/adder:predict', { instances: [[1, 2, 3, 4], [1]] });
    expect(ragged.status).to.equal(400);
    const missing = await send(server, 'POST', '/v1/models/nope:predict', { instances: [[1]] });
    expect(missing).to.deep.equal({ status: 404, type: 'application/json', json: { error: 'Model not found: nope' } });
  });

  it('answers GET / as liveness, GET /v1/models as the list, :explain with the protocol error', async () => {
    expect(await send(server, 'GET', '/')).to.deep.equal({ status: 200, type: 'application/json; charset=utf-8', json: { status: 'alive' } });
    expect((await send(server, 'GET', '/v1/models')).json).to.deep.equal({ models: ['adder', 'archived', 'big', 'outputs2', 'pair', 'words'] });
    expect(await send(server, 'POST', '/v1/models/adder:explain', { instances: [[1, 2, 3, 4]] })).to.deep.equal({
      status: 501,
      type: 'application/json',
      json: { error: 'model "adder" has no explainer: :explain is not supported' },
    });
  });
});
