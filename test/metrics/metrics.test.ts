import os from 'node:os';
import { expect } from 'chai';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { TestStore } from '../helpers/server.ts';
import { find, scrape, startCapturedServer, value, type Sample } from './helpers.ts';

const host = os.hostname();

describe('metrics API: values after known traffic', function () {
  let store: TestStore;
  let server: RunningServer;
  let defaultVersion: string;

  const predict = (path: string, x: unknown = [1, 2, 3, 4]) =>
    fetch(`${server.inferenceUrl}/predictions/${path}`, {
      method: 'POST',
      body: JSON.stringify({ x }),
      headers: { 'content-type': 'application/json' },
    }).then(async (r) => ({ status: r.status, body: await r.text() }));

  /** A counter's increase between two scrapes (0 when absent in both). */
  const delta = (before: Sample[], after: Sample[], name: string, labels: Record<string, string>) =>
    (value(after, name, labels) ?? 0) - (value(before, name, labels) ?? 0);

  before(async () => {
    store = await TestStore.create();
    const config = 'batchSize: 4\nmaxBatchDelay: 200\n';
    await store.add({ name: 'adder', handler: 'hooks-object.js', model: addOne(), config, file: 'adder-v1.mar' });
    await store.add({ name: 'adder', version: '2.0', handler: 'hooks-object.js', model: addOne(), config, file: 'adder-v2.mar' });
    ({ server } = await startCapturedServer(store, ['adder-v1.mar', 'adder-v2.mar']));
    defaultVersion = server.registry.defaultVersionOf('adder')!;
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it("counts inference requests by model and version with TorchServe's names and labels", async () => {
    const before = await scrape(server);
    for (const p of ['adder/1.0', 'adder/1.0', 'adder/1.0', 'adder/2.0', 'adder/2.0', 'adder']) {
      expect((await predict(p)).status).to.equal(200);
    }
    const after = await scrape(server);
    const ts = (v: string) => ({ model_name: 'adder', model_version: v, hostname: host });
    expect(delta(before, after, 'ts_inference_requests_total', ts('1.0'))).to.equal(3);
    expect(delta(before, after, 'ts_inference_requests_total', ts('2.0'))).to.equal(2);
    expect(delta(before, after, 'ts_inference_requests_total', ts('default'))).to.equal(1);
    for (const v of ['1.0', '2.0', 'default']) {
      expect(delta(before, after, 'ts_inference_latency_microseconds', ts(v)), v).to.be.greaterThan(0);
      expect(value(after, 'ts_queue_latency_microseconds', ts(v)), v).to.be.at.least(0);
    }
    // Our histograms name the version that served the request.
    const served = (v: string) => delta(before, after, 'modelserver_request_duration_seconds_count', { model_name: 'adder', model_version: v });
    expect(served('1.0') + served('2.0')).to.equal(6);
    expect(served(defaultVersion)).to.equal(defaultVersion === '1.0' ? 4 : 3);
    expect(delta(before, after, 'modelserver_queue_duration_seconds_count', { model_name: 'adder', model_version: '2.0' })).to.equal(
      served('2.0'),
    );
  });

  it('counts responses by status class on the inference and management APIs (Requests2XX/4XX/5XX)', async () => {
    const before = await scrape(server);
    expect((await predict('adder')).status).to.equal(200);
    expect((await fetch(`${server.managementUrl}/models`)).status).to.equal(200);
    expect((await predict('nope')).status).to.equal(404);
    expect((await fetch(`${server.managementUrl}/models/nope`)).status).to.equal(404);
    expect((await fetch(`${server.inferenceUrl}/no-such-route`)).status).to.equal(404);
    expect((await predict('adder/1.0', 'not rows')).status).to.equal(500); // the handler cannot flatten a string
    const after = await scrape(server);
    const labels = { Level: 'Host', Hostname: host };
    expect(delta(before, after, 'Requests2XX', labels)).to.equal(2);
    expect(delta(before, after, 'Requests4XX', labels)).to.equal(3);
    expect(delta(before, after, 'Requests5XX', labels)).to.equal(1);
  });

  it('records batch sizes per batch (sum = requests, count = batches) and per-stage times for each batch', async () => {
    const labels = { model_name: 'adder', model_version: '1.0' };
    const before = await scrape(server);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => predict('adder/1.0', [i, i, i, i])));
    expect(results.map((r) => JSON.parse(r.body).y[0])).to.deep.equal(Array.from({ length: 10 }, (_, i) => i + 1));
    const after = await scrape(server);
    const batches = delta(before, after, 'modelserver_batch_size_count', labels);
    expect(delta(before, after, 'modelserver_batch_size_sum', labels)).to.equal(10);
    expect(batches).to.be.within(3, 10); // batchSize 4: at least three batches
    expect(delta(before, after, 'modelserver_batch_size_bucket', { ...labels, le: '4' })).to.equal(batches);
    for (const stage of ['preprocess', 'inference', 'postprocess']) {
      expect(delta(before, after, `modelserver_${stage}_duration_seconds_count`, labels), stage).to.equal(batches);
      expect(delta(before, after, `modelserver_${stage}_duration_seconds_sum`, labels), stage).to.be.greaterThan(0);
    }
    expect(delta(before, after, 'modelserver_request_duration_seconds_count', labels)).to.equal(10);
    // Everything answered: nothing queued or in flight.
    expect(value(after, 'modelserver_queue_depth', labels)).to.equal(0);
    expect(value(after, 'modelserver_requests_in_flight', labels)).to.equal(0);
  });

  it('shows ready workers per model version and each worker load time (WorkerLoadTime)', async () => {
    const s = await scrape(server);
    for (const v of ['1.0', '2.0']) {
      expect(value(s, 'modelserver_ready_workers', { model_name: 'adder', model_version: v }), v).to.equal(1);
      const load = value(s, 'WorkerLoadTime', { WorkerName: `W-9000-adder_${v}`, Level: 'Host', Hostname: host });
      expect(load, v).to.be.greaterThan(0);
    }
  });

  it('shows HandlerTime and PredictionTime of the last batch per model (ms, Level="Model")', async () => {
    const s = await scrape(server);
    for (const name of ['HandlerTime', 'PredictionTime']) {
      const v = value(s, name, { ModelName: 'adder', Level: 'Model', Hostname: host });
      expect(v, name).to.be.a('number').and.to.be.at.least(0);
    }
    expect(value(s, 'PredictionTime', { ModelName: 'adder' })).to.be.at.least(value(s, 'HandlerTime', { ModelName: 'adder' })!);
  });

  it('shows host gauges (CPU, memory, disk) with Level="Host"', async () => {
    await scrape(server);
    const s = await scrape(server);
    const labels = { Level: 'Host', Hostname: host };
    expect(value(s, 'CPUUtilization', labels)).to.be.within(0, 100);
    expect(value(s, 'MemoryUtilization', labels)).to.be.within(0, 100);
    expect(value(s, 'MemoryUsed', labels)).to.be.greaterThan(0);
    expect(value(s, 'MemoryAvailable', labels)).to.be.greaterThan(0);
    const totalMb = os.totalmem() / 1024 / 1024;
    expect(value(s, 'MemoryUsed', labels)! + value(s, 'MemoryAvailable', labels)!).to.be.closeTo(totalMb, 1);
    expect(value(s, 'DiskAvailable', labels)).to.be.greaterThan(0);
    expect(value(s, 'DiskUtilization', labels)).to.be.within(0, 100);
  });

  it('returns only the metrics named by ?name[]= (TorchServe filter), nothing for unknown names', async () => {
    const res = await fetch(`${server.metricsUrl}/metrics?name[]=ts_inference_requests_total&name[]=Requests2XX&name[]=nope`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(types).to.deep.equal(['ts_inference_requests_total counter', 'Requests2XX counter']);
    const { parseMetrics } = await import('./helpers.ts');
    expect(new Set(parseMetrics(text).map((x) => x.name))).to.deep.equal(new Set(['ts_inference_requests_total', 'Requests2XX']));
    const none = await fetch(`${server.metricsUrl}/metrics?name[]=nope`);
    expect(none.status).to.equal(200);
    expect(await none.text()).to.equal('');
    const all = await scrape(server);
    expect(find(all, 'modelserver_batch_size_bucket').length).to.be.greaterThan(0);
  });
});
