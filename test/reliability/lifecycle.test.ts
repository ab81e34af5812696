import { expect } from 'chai';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

describe('lifecycle under load', function () {
  let store: TestStore;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'versioned', version: '1.0', handler: 'version.js', file: 'versioned-1.mar', config: 'batchSize: 4\n' });
    await store.add({ name: 'versioned', version: '2.0', handler: 'version.js', file: 'versioned-2.mar', config: 'batchSize: 4\n' });
    await store.add({ name: 'other', version: '1.0', handler: 'version.js', file: 'other-1.mar' });
    await store.add({ name: 'other', version: '2.0', handler: 'version.js', file: 'other-2.mar' });
  });
  after(async () => {
    await store?.remove();
  });

  it('loses no request while models are registered, scaled up and down and unregistered', async () => {
    const server = await startTestServer(store, ['versioned-1.mar', 'other-1.mar', 'other-2.mar']);
    try {
      const mgmt = (method: string, p: string) => fetch(server.managementUrl + p, { method }).then((r) => r.status);
      const statuses: number[] = [];
      let sent = 0;
      let stop = false;
      const clients = Array.from({ length: 8 }, async (_, c) => {
        while (!stop && sent < 2000) {
          sent++;
          const model = c % 2 === 0 ? 'versioned' : 'other';
          const res = await fetch(`${server.inferenceUrl}/predictions/${model}?sleep=2`, { method: 'POST', body: '{}' });
          await res.json();
          statuses.push(res.status);
        }
      });
      const changes = (async () => {
        expect(await mgmt('POST', '/models?url=versioned-2.mar&initial_workers=1')).to.equal(200);
        expect(await mgmt('PUT', '/models/versioned/1.0?min_worker=3&synchronous=true')).to.equal(200);
        expect(await mgmt('PUT', '/models/versioned/2.0/set-default')).to.equal(200);
        expect(await mgmt('PUT', '/models/versioned/1.0?min_worker=1&synchronous=true')).to.equal(200);
        expect(await mgmt('PUT', '/models/other/2.0?min_worker=2&synchronous=true')).to.equal(200);
        expect(await mgmt('DELETE', '/models/other/2.0')).to.equal(200);
        expect(await mgmt('PUT', '/models/other/1.0?min_worker=2&synchronous=true')).to.equal(200);
        expect(await mgmt('PUT', '/models/other/1.0?min_worker=1&synchronous=true')).to.equal(200);
        await new Promise((r) => setTimeout(r, 100));
        stop = true;
      })();
      await Promise.all([changes, ...clients]);
      expect(statuses.length).to.equal(sent);
      expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
    } finally {
      await server.stop();
    }
  });

  it('stops gracefully: in-flight requests finish, new ones are refused, no connection is cut', async () => {
    const server: RunningServer = await startTestServer(store, ['versioned-1.mar']);
    const inflight = Array.from({ length: 6 }, () =>
      fetch(`${server.inferenceUrl}/predictions/versioned?sleep=300`, { method: 'POST', body: '{}' }).then(async (r) => ({ status: r.status, body: await r.json() })),
    );
    await new Promise((r) => setTimeout(r, 100));
    const stopping = server.stop();
    await new Promise((r) => setTimeout(r, 20));
    const late = await fetch(`${server.inferenceUrl}/predictions/versioned`, { method: 'POST', body: '{}' }).then(
      (r) => r.status,
      () => 'refused',
    );
    const done = await Promise.all(inflight);
    await stopping;
    expect(done.map((d) => d.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
    expect([503, 'refused']).to.include(late);
    const after = await fetch(`${server.inferenceUrl}/ping`).then(() => 'answered', () => 'refused');
    expect(after).to.equal('refused');
  });
});
