import { expect } from 'chai';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mlp } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

describe('reliability: hostile registrations', function () {
  let store: TestStore;
  let server: RunningServer;
  let scratch: string;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'mlp', handler: 'tensor', model: mlp() });
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-reg-'));
    server = await startTestServer(store, [], {}, { workDirParent: scratch });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
    await fs.rm(scratch, { recursive: true, force: true });
  });

  const register = async (query: string) => {
    const res = await fetch(`${server.managementUrl}/models?${query}`, { method: 'POST' });
    return { status: res.status, body: (await res.json()) as { message?: string; status?: string } };
  };
  const extracted = async () => {
    const [work] = await fs.readdir(scratch);
    return (await fs.readdir(path.join(scratch, work, 'models'))).filter((n) => n !== 'node_modules');
  };

  it('of 50 concurrent registrations of one archive, one gets 200 and the others 409, with no server path in any answer', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => register('url=mlp.mar&initial_workers=1&synchronous=true')));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).to.have.length(1);
    expect(statuses.filter((s) => s === 409)).to.have.length(49);
    for (const r of results.filter((x) => x.status === 409)) {
      expect(r.body.message).to.equal('Model version 1.0 for model mlp already exists');
    }
    const all = JSON.stringify(results);
    expect(all).not.to.contain(store.dir);
    expect(all).not.to.contain(scratch);
    expect(all).not.to.match(/EEXIST|ENOENT|ENOTEMPTY/);
    // One folder extracted, the losers' removed; the winner serves.
    expect(await extracted()).to.have.length(1);
    const pred = await fetch(`${server.inferenceUrl}/predictions/mlp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { input: [Array(16).fill(0.25)] } }),
    });
    expect(pred.status).to.equal(200);
    expect((await fetch(`${server.managementUrl}/models/mlp`, { method: 'DELETE' })).status).to.equal(200);
  });

  it('refuses model names that are paths, markup or absurdly long, and registers nothing', async () => {
    for (const name of ['../../evil', '..', '.hidden', 'a/b', '<script>alert(1)</script>', 'x'.repeat(5000), 'sp ace']) {
      const res = await register(`url=mlp.mar&model_name=${encodeURIComponent(name)}`);
      expect(res.status, name.slice(0, 40)).to.equal(400);
      expect(res.body.message).to.match(/model name/);
      expect(res.body.message!.length).to.be.lessThan(300);
    }
    const list = (await (await fetch(`${server.managementUrl}/models`)).json()) as { models: unknown[] };
    expect(list.models).to.deep.equal([]);
    expect(await extracted()).to.deep.equal([]);
    const ok = await register('url=mlp.mar&model_name=mlp_v-2.1&initial_workers=1');
    expect(ok.status).to.equal(200);
    expect((await fetch(`${server.managementUrl}/models/mlp_v-2.1`, { method: 'DELETE' })).status).to.equal(200);
  });

  it('names a broken archive as the client gave it, never by its path on the server', async () => {
    await fs.writeFile(path.join(store.dir, 'broken.mar'), 'not a zip');
    const res = await register('url=broken.mar');
    expect(res.status).to.equal(400);
    expect(res.body.message).to.match(/^broken\.mar: /);
    expect(res.body.message).not.to.contain(store.dir);
  });
});
