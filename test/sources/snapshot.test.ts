import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import { readSnapshot } from '../../src/registry/snapshot.ts';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { identity } from '../helpers/v2-models.ts';

async function post(server: RunningServer, p: string, body: unknown = {}) {
  const res = await fetch(`${server.inferenceUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('model sources: repository models loaded on request survive a restart (snapshot)', function () {
  let store: TestStore;
  let repo: string;
  let snapshots: string;

  before(async () => {
    store = await TestStore.create();
    snapshots = path.join(path.dirname(store.dir), 'snapshots');
    repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      multi: { config: 'max_batch_size: 4\nversion_policy: { all { } }', versions: { '1': addOne(), '2': identity('FP32', ['N', 4]) } },
      other: { versions: { '1': addOne() } },
    });
  });
  after(async () => {
    await store?.remove();
  });

  it('restores every version of a repository model loaded in explicit mode, the highest still the default', async () => {
    const props = { model_repository: repo, model_control_mode: 'explicit' };
    const first = await startTestServer(store, [], props, { snapshotDir: snapshots });
    try {
      expect((await post(first, '/v2/repository/models/multi/load')).status).to.equal(200);
    } finally {
      await first.stop();
    }
    const snap = await readSnapshot(snapshots);
    expect(Object.keys(snap!.models)).to.deep.equal(['multi']);
    expect(snap!.models.multi['2']).to.include({ marName: 'multi', defaultVersion: true });
    const second = await startTestServer(store, [], props, { snapshotDir: snapshots, restore: snap });
    try {
      expect((await post(second, '/v2/repository/index', { ready: true })).json).to.deep.equal([
        { name: 'multi', version: '1', state: 'READY' },
        { name: 'multi', version: '2', state: 'READY' },
      ]);
      const r = await post(second, '/v2/models/multi/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 1, 1, 1] }] });
      expect(r.json.model_version).to.equal('2');
      expect((await fs.stat(path.join(repo, 'multi', '1', 'model.onnx'))).isFile()).to.equal(true);
    } finally {
      await second.stop();
    }
  });
});
