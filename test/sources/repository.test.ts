import { expect } from 'chai';
import path from 'node:path';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { identity } from '../helpers/v2-models.ts';

async function call(server: RunningServer, method: string, p: string, body?: unknown) {
  const res = await fetch(`${server.inferenceUrl}${p}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as any) : undefined }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const x4 = (values: number[]) => ({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: values }] });
const outputOf = (r: { json: any }) => r.json.outputs[0].data as number[]; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('model sources: a Triton repository beside .mar archives, under one registry', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'archived', model: addOne(), handler: 'tensor' });
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      // No config.pbtxt: completed from the model, as Triton does for ONNX.
      adder: { versions: { '1': addOne() } },
      // Two versions served (version_policy all); version 2 is an identity, so answers tell them apart.
      multi: { config: 'backend: "onnxruntime"\nmax_batch_size: 8\nversion_policy: { all { } }', versions: { '1': addOne(), '2': identity('FP32', ['N', 4]) } },
      // The default policy (latest 1) serves only version 3.
      latest: { versions: { '1': addOne(), '3': identity('FP32', ['N', 4]) } },
      // A bare model.onnx, named after its folder.
      bare: { bare: addOne() },
    });
    server = await startTestServer(store, ['archived.mar'], { model_repository: repo });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('loads every repository model at start (control mode none) next to the archive, and lists them all', async () => {
    const index = await call(server, 'POST', '/v2/repository/index');
    expect(index.json).to.deep.equal([
      { name: 'adder', version: '1', state: 'READY' },
      { name: 'archived', version: '1.0', state: 'READY' },
      { name: 'bare', version: '1', state: 'READY' },
      { name: 'latest', version: '3', state: 'READY' },
      { name: 'multi', version: '1', state: 'READY' },
      { name: 'multi', version: '2', state: 'READY' },
    ]);
  });

  it('serves a repository model over v2 and /predictions (tensor handler), as the archive', async () => {
    const r = await call(server, 'POST', '/v2/models/adder/infer', x4([1, 2, 3, 4]));
    expect(r.status).to.equal(200);
    expect(r.json).to.deep.include({ model_name: 'adder', model_version: '1' });
    expect(outputOf(r)).to.deep.equal([2, 3, 4, 5]);
    const p = await call(server, 'POST', '/predictions/adder', { inputs: { x: [[0, 0, 0, 1]] } });
    expect(p).to.deep.equal({ status: 200, json: { outputs: { y: [[1, 1, 1, 2]] } } });
    expect(outputOf(await call(server, 'POST', '/v2/models/archived/infer', x4([0, 0, 0, 0])))).to.deep.equal([1, 1, 1, 1]);
    expect(outputOf(await call(server, 'POST', '/v2/models/bare/infer', x4([5, 5, 5, 5])))).to.deep.equal([6, 6, 6, 6]);
  });

  it('serves each version the policy picks; without a version, the highest', async () => {
    expect(outputOf(await call(server, 'POST', '/v2/models/multi/versions/1/infer', x4([1, 1, 1, 1])))).to.deep.equal([2, 2, 2, 2]);
    expect(outputOf(await call(server, 'POST', '/v2/models/multi/versions/2/infer', x4([1, 1, 1, 1])))).to.deep.equal([1, 1, 1, 1]);
    const dflt = await call(server, 'POST', '/v2/models/multi/infer', x4([1, 1, 1, 1]));
    expect(dflt.json.model_version).to.equal('2');
    expect((await call(server, 'POST', '/v2/models/latest/versions/1/infer', x4([1, 1, 1, 1]))).status).to.equal(404);
  });

  it("refuses load and unload as Triton does outside explicit control mode", async () => {
    expect(await call(server, 'POST', '/v2/repository/models/adder/unload', {})).to.deep.equal({
      status: 503,
      json: { error: 'explicit model load / unload is not allowed if polling is enabled' },
    });
  });
});

describe('model sources: Triton configs checked against the model (explicit control mode)', function () {
  let store: TestStore;
  let server: RunningServer;
  let repo: string;

  before(async () => {
    store = await TestStore.create();
    repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      good: { config: 'name: "good"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 4\ninput [{ name: "x", data_type: TYPE_FP32, dims: [4] }]\noutput [{ name: "y", data_type: TYPE_FP32, dims: [4] }]\ninstance_group [{ count: 2, kind: KIND_CPU }]', versions: { '1': addOne() } },
      badName: { config: 'input [{ name: "input0", data_type: TYPE_FP32, dims: [4] }]', versions: { '1': addOne() } },
      badType: { config: 'max_batch_size: 4\ninput [{ name: "x", data_type: TYPE_INT32, dims: [4] }]', versions: { '1': addOne() } },
      badRank: { config: 'max_batch_size: 4\noutput [{ name: "y", data_type: TYPE_FP32, dims: [2, 2] }]', versions: { '1': addOne() } },
      badBatch: { config: 'max_batch_size: 4', versions: { '1': identity('FP32', [2, 4]) } },
      tensorrt: { config: 'platform: "tensorrt_plan"', versions: { '1': addOne() } },
      python: { config: 'backend: "python"', versions: { '1': addOne() } },
      noVersion: { config: 'max_batch_size: 1' },
      missingFile: { config: 'max_batch_size: 1\ndefault_model_filename: "other.onnx"', versions: { '1': addOne() } },
      syntax: { config: 'max_batch_size: 4\ninput [ { name: "x" ', versions: { '1': addOne() } },
      wrongFolder: { config: 'name: "other"', versions: { '1': addOne() } },
    });
    server = await startTestServer(store, [], { model_repository: repo, model_control_mode: 'explicit' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('loads nothing at start in explicit mode, then loads and unloads on request', async () => {
    expect((await call(server, 'POST', '/v2/repository/index', { ready: true })).json).to.deep.equal([]);
    expect((await call(server, 'POST', '/v2/repository/models/good/load', {})).status).to.equal(200);
    const r = await call(server, 'POST', '/v2/models/good/infer', x4([1, 2, 3, 4]));
    expect(outputOf(r)).to.deep.equal([2, 3, 4, 5]);
    // instance_group count 2 → two workers
    const described = (await (await fetch(`${server.managementUrl}/models/good`)).json()) as Array<{ workers: unknown[]; batchSize: number }>;
    expect(described[0].workers).to.have.length(2);
    expect(described[0].batchSize).to.equal(1); // no dynamic_batching: requests are not batched together
    expect((await call(server, 'POST', '/v2/repository/models/good/unload', {})).status).to.equal(200);
    expect((await call(server, 'POST', '/v2/models/good/infer', x4([1, 2, 3, 4]))).status).to.equal(404);
  });

  it('refuses configs that disagree with the model, or that it cannot serve, naming the field', async () => {
    const cases: Record<string, RegExp> = {
      badName: /^badName\/config\.pbtxt: input\[0\]\.name "input0" is not an input of the model \(inputs: x\)$/,
      badType: /^badType\/config\.pbtxt: input\[0\]\.data_type TYPE_INT32 of "x" does not match the model's TYPE_FP32$/,
      badRank: /^badRank\/config\.pbtxt: output\[0\]\.dims \[2,2\] of "y" has rank 2, the model's has rank 1 \(\[4\] after the batch dimension\)$/,
      badBatch: /^badBatch\/config\.pbtxt: max_batch_size 4 needs a dynamic first dimension on every tensor, but "x" has shape \[2,4\]: set max_batch_size to 0$/,
      tensorrt: /^tensorrt\/config\.pbtxt: platform "tensorrt_plan" is not supported: modelserver runs ONNX models/,
      python: /^python\/config\.pbtxt: backend "python" is not supported/,
      noVersion: /^noVersion: no version folder \(noVersion\/1\/model\.onnx\)$/,
      missingFile: /^missingFile\/1: the model file other\.onnx is missing$/,
      syntax: /^syntax\/config\.pbtxt: line 2: a message is not closed: expected "\}"$/,
      wrongFolder: /^wrongFolder\/config\.pbtxt: name "other" does not match the model's folder name "wrongFolder"$/,
    };
    for (const [name, message] of Object.entries(cases)) {
      const r = await call(server, 'POST', `/v2/repository/models/${name}/load`, {});
      expect(r.status, name).to.equal(400);
      expect(r.json.error, name).to.match(message);
    }
    expect((await call(server, 'POST', '/v2/repository/index', { ready: true })).json).to.deep.equal([]);
  });

  it('takes parameters.config (JSON) in place of config.pbtxt, with the same checks', async () => {
    const wrong = await call(server, 'POST', '/v2/repository/models/badType/load', {
      parameters: { config: JSON.stringify({ max_batch_size: 4, input: [{ name: 'x', data_type: 'TYPE_STRING', dims: [4] }] }) },
    });
    expect(wrong.status).to.equal(400);
    expect(wrong.json.error).to.match(/input\[0\]\.data_type TYPE_STRING of "x" does not match the model's TYPE_FP32/);
    const fixed = await call(server, 'POST', '/v2/repository/models/badType/load', {
      parameters: { config: JSON.stringify({ max_batch_size: 4, input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [4] }] }) },
    });
    expect(fixed.status).to.equal(200);
    expect(outputOf(await call(server, 'POST', '/v2/models/badType/infer', x4([0, 0, 0, 0])))).to.deep.equal([1, 1, 1, 1]);
    const unknown = await call(server, 'POST', '/v2/repository/models/good/load', { parameters: { config: { max_batch_sise: 1 } } });
    expect(unknown).to.deep.equal({ status: 400, json: { error: 'model "good": config max_batch_sise: unknown field "max_batch_sise"' } });
  });
});
