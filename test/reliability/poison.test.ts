import { expect } from 'chai';
import type { RunningServer } from '../../src/server.ts';
import { describeModel, startTestServer, TestStore } from '../helpers/server.ts';

describe('reliability: a poison request fails only itself', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'batched', handler: 'dies.js', config: 'minWorkers: 2\nmaxWorkers: 2\nbatchSize: 8\nmaxBatchDelay: 200\n' });
    // The default policy gives a model up after 5 deaths within 60 s; only the backoff is shortened.
    server = await startTestServer(store, ['batched.mar'], {}, { restart: { backoff: () => 0 } });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  const predict = async (query: string) => {
    const res = await fetch(`${server.inferenceUrl}/predictions/batched?${query}`, { method: 'POST', body: 'x' });
    return { status: res.status, id: res.headers.get('x-request-id'), body: (await res.json()) as Record<string, unknown> };
  };

  it('answers the rest of a batch whose worker a poison request killed, and fails the poison one with a 500 naming it', async () => {
    const sent = ['ok=1', 'ok=2', 'die=exit', 'ok=3', 'ok=4', 'ok=5'].map(predict);
    const results = await Promise.all(sent);
    // They went out as one batch (the handler reports the batch size), so the death took the others down with it.
    const ok = results.filter((r) => r.status === 200);
    expect(ok).to.have.length(5);
    expect(ok.some((r) => (r.body.batch as number) === 1)).to.equal(true); // re-run alone after the death
    const poison = results[2];
    expect(poison.status).to.equal(500);
    expect(poison.body.message).to.contain('"batched"').and.contain(`request ${poison.id}`).and.contain('killed its worker');
  });

  it('does not count poison deaths toward FAILED: ten poison requests in a row and the model is READY and serving', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await predict('die=exit');
      expect(r.status, `poison request ${i}`).to.equal(500);
    }
    const d = await describeModel(server, 'batched');
    expect(d.state).to.equal('READY');
    for (let i = 0; i < 20; i++) {
      const r = await predict('ok=1');
      if (r.status === 200) break;
      expect(r.status).to.equal(503); // replacements on their way
      await new Promise((res) => setTimeout(res, 50));
    }
    expect((await predict('ok=1')).status).to.equal(200);
  });
});
