import { expect } from 'chai';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { TestStore } from '../helpers/server.ts';
import { find, scrape, scrapeUntil, startCapturedServer, value, type CapturedServer } from './helpers.ts';

describe("metrics API: custom metrics that handlers record through ctx.metrics", function () {
  let store: TestStore;
  let server: RunningServer;
  let captured: CapturedServer;
  const logLevel = process.env.MS_LOG_LEVEL;

  const predict = (x: number[], source: string) =>
    fetch(`${server.inferenceUrl}/predictions/cm`, {
      method: 'POST',
      body: JSON.stringify({ x, source }),
      headers: { 'content-type': 'application/json' },
    });

  before(async () => {
    process.env.MS_LOG_LEVEL = 'warn'; // the fixture's handler logs at info and debug (test/api/access-log.test.ts checks them)
    store = await TestStore.create();
    await store.add({ name: 'cm', handler: 'custom-metrics.js', model: addOne(), config: 'batchSize: 4\nmaxBatchDelay: 100\n' });
    captured = await startCapturedServer(store, ['cm.mar'], {}, 'warn');
    server = captured.server;
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
    if (logLevel === undefined) delete process.env.MS_LOG_LEVEL;
    else process.env.MS_LOG_LEVEL = logLevel;
  });

  it('exposes counters, gauges and histograms named as given, labelled with model, version and the handler labels', async () => {
    const sources = ['a', 'b', 'a', 'a', 'b'];
    const responses = await Promise.all(sources.map((s, i) => predict([i, 0, 0, 0], s)));
    expect(responses.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
    const mv = { model_name: 'cm', model_version: '1.0' };
    const s = await scrapeUntil(server, (x) => (value(x, 'custom_row_sum_count', mv) ?? 0) >= 5 && (value(x, 'custom_rows_total', { ...mv, source: 'b' }) ?? 0) >= 2);
    expect(value(s, 'custom_rows_total', { ...mv, source: 'a' })).to.equal(3);
    expect(value(s, 'custom_rows_total', { ...mv, source: 'b' })).to.equal(2);
    expect(value(s, 'custom_initialized', { ...mv, worker: '0' })).to.equal(1);
    expect(value(s, 'custom_last_batch', mv)).to.be.within(1, 4);
    // Each row is x + 1: sums are 4 + i for i = 0..4.
    expect(value(s, 'custom_row_sum_count', mv)).to.equal(5);
    expect(value(s, 'custom_row_sum_sum', mv)).to.equal(4 + 5 + 6 + 7 + 8);
    expect(value(s, 'custom_row_sum_bucket', { ...mv, le: '10' })).to.equal(5);
    // The handler's own metrics do not disturb the server's.
    expect(value(s, 'ts_inference_requests_total', { model_name: 'cm', model_version: 'default' })).to.equal(5);
    const names = new Set(s.map((x) => x.name));
    expect([...names].filter((n) => n.includes('negative') || n.includes('reserved') || n.includes('bad'))).to.deep.equal([]);
    expect(find(s, 'custom_rows_total', { model_name: 'other' })).to.deep.equal([]);
  });

  it('drops what cannot be a Prometheus series, with one warning per metric and reason', async () => {
    for (let i = 0; i < 3; i++) expect((await predict([1, 1, 1, 1], 'c')).status).to.equal(200);
    await scrapeUntil(server, (x) => (value(x, 'custom_rows_total', { source: 'c' }) ?? 0) >= 3);
    const warnings = captured.lines().filter((l) => l.level === 40 && String(l.msg).startsWith('custom metric'));
    const byMetric = warnings.map((w) => w.metric).sort();
    expect(byMetric).to.deep.equal(['bad name!', 'custom_negative_total', 'custom_reserved_total', 'ts_inference_requests_total']);
    const msg = (m: string) => String(warnings.find((w) => w.metric === m)!.msg);
    expect(msg('bad name!')).to.equal('custom metric "bad name!" dropped: it is not a valid Prometheus metric name');
    expect(msg('ts_inference_requests_total')).to.contain('the name is taken by a server metric');
    expect(msg('custom_negative_total')).to.contain('a counter cannot decrease');
    expect(msg('custom_reserved_total')).to.contain('label "model_name" is set by the server');
    for (const w of warnings) expect(w).to.include({ model: 'cm', version: '1.0' });
    // The server counter the handler tried to bump still counts requests only.
    const s = await scrape(server);
    expect(value(s, 'ts_inference_requests_total', { model_name: 'cm' })).to.equal(8);
  });
});
