import { expect } from 'chai';
import { mlp } from '../../scripts/lib/onnx-models.ts';
import { jsonDepth, MAX_JSON_DEPTH } from '../../src/json-depth.ts';
import type { RunningServer } from '../../src/server.ts';
import { describeModel, startTestServer, TestStore } from '../helpers/server.ts';

const nested = (depth: number, leaf = '1') => '['.repeat(depth) + leaf + ']'.repeat(depth);

describe('reliability: absurdly nested JSON', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'mlp', handler: 'tensor', model: mlp() });
    await store.add({ name: 'echo', handler: 'echo.js' });
    server = await startTestServer(store, ['mlp.mar', 'echo.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  const post = async (url: string, body: string, method = 'POST') => {
    const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('answers 400 to 5,000 nested arrays on every JSON route, before any worker sees them', async () => {
    const deep = nested(5000);
    const routes = [
      `${server.inferenceUrl}/predictions/mlp`,
      `${server.inferenceUrl}/v1/models/mlp:predict`,
      `${server.inferenceUrl}/v2/models/mlp/infer`,
    ];
    for (let round = 0; round < 3; round++) {
      for (const url of routes) {
        const res = await post(url, deep);
        expect(res.status, url).to.equal(400);
        expect(String(res.body.message ?? res.body.error)).to.contain(`more than ${MAX_JSON_DEPTH} levels deep`);
      }
    }
    const mgmt = await post(`${server.managementUrl}/models/mlp?min_worker=1`, `{"a":${nested(5000)}}`, 'PUT');
    expect(mgmt.status).to.equal(400);
    expect(String(mgmt.body.message)).to.contain('levels deep');
    // Nothing died: the model is READY with its worker, /ping is Healthy, and it still answers.
    const d = await describeModel(server, 'mlp');
    expect(d.state).to.equal('READY');
    expect(d.workers).to.have.length(1);
    expect((await fetch(`${server.inferenceUrl}/ping`)).status).to.equal(200);
    const ok = await post(`${server.inferenceUrl}/predictions/mlp`, JSON.stringify({ inputs: { input: [Array(16).fill(0.5)] } }));
    expect(ok.status).to.equal(200);
  });

  it(`passes JSON nested ${MAX_JSON_DEPTH} levels deep to the handler, and counts brackets inside strings as text`, async () => {
    const atLimit = nested(MAX_JSON_DEPTH);
    const res = await post(`${server.inferenceUrl}/predictions/echo`, atLimit);
    expect(res.status).to.equal(200);
    expect(JSON.stringify(res.body.data)).to.equal(atLimit);
    const inString = JSON.stringify({ text: '['.repeat(5000) + '\\"[' });
    const res2 = await post(`${server.inferenceUrl}/predictions/echo`, inString);
    expect(res2.status).to.equal(200);
    expect((res2.body.data as { text: string }).text).to.have.length(5003);
    expect((await post(`${server.inferenceUrl}/predictions/echo`, nested(MAX_JSON_DEPTH + 1))).status).to.equal(400);
  });

  it('measures depth in one pass, ignoring brackets in strings and escaped quotes', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(jsonDepth(enc('1'))).to.equal(0);
    expect(jsonDepth(enc('{"a":[1,{"b":[]}]}'))).to.equal(4);
    expect(jsonDepth(enc('["[[[\\"[[", {"x": "}}"}]'))).to.equal(2);
    expect(jsonDepth(enc(nested(10_000)), 100)).to.equal(101);
  });
});
