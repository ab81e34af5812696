import { expect } from 'chai';
import path from 'node:path';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
async function call(server: RunningServer, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.inferenceUrl}${p}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  });
  return { status: res.status, json: await res.json() };
}

const CONFIGURED = `
name: "configured"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]
dynamic_batching { max_queue_delay_microseconds: 500 default_queue_policy { default_timeout_microseconds: 9000000000 } }
instance_group [ { count: 1 kind: KIND_CPU } ]
parameters { key: "note" value: { string_value: "kept" } }
`;

const tensorJson = {
  name: 'x', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4], is_shape_tensor: false, allow_ragged_batch: false, optional: false,
  is_non_linear_format_io: false,
};

describe("Triton's model configuration and statistics extensions", function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'archived', model: addOne(), handler: 'tensor', config: 'batchSize: 4\nmaxBatchDelay: 7\n' });
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      configured: { config: CONFIGURED, versions: { '1': addOne() } },
      completed: { versions: { '1': addOne() } },
    });
    server = await startTestServer(store, ['archived.mar'], { model_repository: repo });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('answers config.pbtxt as Triton prints it: proto names, defaults, numbers where Triton fixes them', async () => {
    const { status, json } = await call(server, 'GET', '/v2/models/configured/config');
    expect(status).to.equal(200);
    expect(json).to.include({ name: 'configured', platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 8, default_model_filename: 'model.onnx' });
    expect(json.version_policy).to.deep.equal({ latest: { num_versions: 1 } });
    expect(json.input).to.deep.equal([tensorJson]);
    expect(json.output[0]).to.include({ name: 'y', data_type: 'TYPE_FP32', label_filename: '' });
    expect(json.dynamic_batching).to.deep.include({ max_queue_delay_microseconds: 500, preferred_batch_size: [], priority_queue_policy: {} });
    expect(json.dynamic_batching.default_queue_policy).to.deep.equal({
      timeout_action: 'REJECT', default_timeout_microseconds: 9000000000, allow_timeout_override: false, max_queue_size: 0,
    });
    expect(json.instance_group).to.deep.equal([
      { name: 'configured_0', kind: 'KIND_CPU', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' },
    ]);
    expect(json.parameters).to.deep.equal({ note: { string_value: 'kept' } });
    expect(json).to.not.have.property('sequence_batching');
    expect((await call(server, 'GET', '/v2/models/configured/versions/1/config')).json).to.deep.equal(json);
  });

  it('completes a model without config.pbtxt from the ONNX file, as Triton auto-completes', async () => {
    const { json } = await call(server, 'GET', '/v2/models/completed/config');
    expect(json).to.include({ name: 'completed', max_batch_size: 4, platform: 'onnxruntime_onnx' });
    expect(json.input).to.deep.equal([tensorJson]);
    expect(json.output.map((o: any) => [o.name, o.data_type, o.dims])).to.deep.equal([['y', 'TYPE_FP32', [4]]]);
    expect(json.dynamic_batching).to.deep.include({ max_queue_delay_microseconds: 0 });
  });

  it("derives an archive's config from its model and settings", async () => {
    const { json } = await call(server, 'GET', '/v2/models/archived/config');
    expect(json).to.include({ name: 'archived', max_batch_size: 4 });
    expect(json.dynamic_batching).to.deep.include({ max_queue_delay_microseconds: 7000 });
    expect(json.input).to.deep.equal([tensorJson]);
    expect((await call(server, 'GET', '/v2/models/nope/config')).status).to.equal(404);
  });

  it('counts requests from every protocol: successes, failures, inferences by rows, executions, queue and compute time', async () => {
    const x = (rows: number) => ({ inputs: [{ name: 'x', shape: [rows, 4], datatype: 'FP32', data: new Array(rows * 4).fill(1) }] });
    expect((await call(server, 'POST', '/v2/models/completed/infer', x(1))).status).to.equal(200);
    expect((await call(server, 'POST', '/v2/models/completed/infer', x(2))).status).to.equal(200);
    expect((await call(server, 'POST', '/predictions/completed', { inputs: { x: [[1, 2, 3, 4]] } })).status).to.equal(200);
    expect((await call(server, 'POST', '/v1/models/completed:predict', { instances: [[[1, 2, 3, 4]]] })).status).to.equal(200);
    // Refused by the handler in the worker: a failure of the model.
    expect((await call(server, 'POST', '/predictions/completed', { inputs: { x: [[1, 2]] } })).status).to.equal(400);

    const { status, json } = await call(server, 'GET', '/v2/models/completed/stats');
    expect(status).to.equal(200);
    expect(json.model_stats).to.have.length(1);
    const s = json.model_stats[0];
    expect(s).to.include({ name: 'completed', version: '1', inference_count: 5 });
    expect(s.last_inference).to.be.within(Date.now() - 60_000, Date.now());
    const st = s.inference_stats;
    expect(st.success.count).to.equal(4);
    expect(st.fail.count).to.equal(1);
    expect(st.queue.count).to.equal(4);
    expect(st.compute_infer.count).to.equal(4);
    for (const k of ['success', 'fail', 'compute_infer']) expect(st[k].ns, k).to.be.greaterThan(0);
    expect(st.cache_hit).to.deep.equal({ count: 0, ns: 0 });
    expect(s.execution_count).to.be.within(1, 5);
    const executed = s.batch_stats.reduce((n: number, b: any) => n + b.compute_infer.count, 0);
    expect(executed).to.equal(s.execution_count);
    expect(s).to.deep.include({ response_stats: {}, memory_usage: [] });

    const all = await call(server, 'GET', '/v2/models/stats');
    expect(all.json.model_stats.map((m: any) => `${m.name}/${m.version}`)).to.deep.equal(['archived/1.0', 'completed/1', 'configured/1']);
    expect((await call(server, 'GET', '/v2/models/completed/versions/1/stats')).json.model_stats[0].inference_count).to.equal(5);
  });

  it("exports the same numbers under Triton's metric names, labelled model and version", async () => {
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    const value = (line: string) => {
      const found = text.split('\n').find((l) => l.startsWith(line + ' '));
      expect(found, line).to.not.equal(undefined);
      return Number(found!.slice(line.length + 1));
    };
    const stats = (await call(server, 'GET', '/v2/models/completed/stats')).json.model_stats[0];
    expect(value('nv_inference_request_success{model="completed",version="1"}')).to.equal(4);
    expect(value('nv_inference_request_failure{model="completed",version="1",reason="BACKEND"}')).to.equal(1);
    expect(value('nv_inference_request_failure{model="completed",version="1",reason="REJECTED"}')).to.equal(0);
    expect(value('nv_inference_count{model="completed",version="1"}')).to.equal(5);
    expect(value('nv_inference_exec_count{model="completed",version="1"}')).to.equal(stats.execution_count);
    expect(value('nv_inference_request_duration_us{model="completed",version="1"}')).to.equal(Math.floor(stats.inference_stats.success.ns / 1000));
    expect(value('nv_inference_compute_infer_duration_us{model="completed",version="1"}')).to.be.greaterThan(0);
    for (const m of ['queue', 'compute_input', 'compute_output']) expect(value(`nv_inference_${m}_duration_us{model="completed",version="1"}`)).to.be.at.least(0);
    expect(value('nv_inference_pending_request_count{model="completed",version="1"}')).to.equal(0);
    expect(text).to.contain('# TYPE nv_inference_request_success counter');
    // TorchServe's names stay beside them.
    expect(text).to.match(/^ts_inference_requests_total\{/m);
  });

  it("answers Triton's errors for models and versions that are not available", async () => {
    expect(await call(server, 'GET', '/v2/models/nope/stats')).to.deep.equal({ status: 400, json: { error: "requested model 'nope' is not available" } });
    expect(await call(server, 'GET', '/v2/models/completed/versions/7/stats')).to.deep.equal({
      status: 400,
      json: { error: "requested model version is not available for model 'completed'" },
    });
  });
});
