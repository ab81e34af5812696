/**
 * /ping while a model named at start has failed (issue 15, point 1): Unhealthy with the reason under
 * strict_readiness (the default, as Triton's --strict-readiness), until the model is registered; Healthy with
 * strict_readiness=false (TorchServe).
 */
import { expect } from 'chai';
import { mlp } from '../../scripts/lib/onnx-models.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import type { RunningServer } from '../../src/server.ts';

describe('/ping and models named at start that failed to load', function () {
  let store: TestStore;
  let server: RunningServer | undefined;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'mlp', model: mlp(), handler: 'tensor' });
    await store.add({ name: 'broken', model: mlp(), handler: 'init-fails.js' });
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  after(() => store.remove());

  it('strict (default): Unhealthy with the model and the reason, Healthy once the model is registered', async () => {
    server = await startTestServer(store, ['mlp.mar', 'missing=mlp2.mar']);
    expect(server.startupFailures.map((f) => f.model)).to.deep.equal(['missing']);
    const res = await fetch(`${server.inferenceUrl}/ping`);
    expect(res.status).to.equal(500);
    const body = (await res.json()) as { status: string; reason: string };
    expect(body.status).to.equal('Unhealthy');
    expect(body.reason).to.contain('model "missing"').and.contain('mlp2.mar');
    const ready = await fetch(`${server.inferenceUrl}/v2/health/ready`);
    expect(ready.status).to.equal(400); // "4xx means false"

    const reg = await fetch(`${server.managementUrl}/models?url=mlp.mar&model_name=missing`, { method: 'POST' });
    expect(reg.status).to.equal(200);
    const after = await fetch(`${server.inferenceUrl}/ping`);
    expect(after.status).to.equal(200);
    expect(await after.json()).to.deep.equal({ status: 'Healthy' });
  });

  it('lenient (strict_readiness=false): Healthy with what loaded; the failure stays in the start-up report', async () => {
    server = await startTestServer(store, ['mlp.mar', 'broken.mar'], { strict_readiness: 'false' });
    expect(server.startupFailures).to.have.length(1);
    expect(server.startupFailures[0]).to.include({ model: 'broken', url: 'broken.mar' });
    expect(server.startupFailures[0].error).to.contain('weights are corrupt');
    const res = await fetch(`${server.inferenceUrl}/ping`);
    expect(res.status).to.equal(200);
  });
});
