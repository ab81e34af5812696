import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { identity } from '../helpers/v2-models.ts';

type Entry = { name: string; version?: string; state: string };

async function index(server: RunningServer): Promise<string[]> {
  const res = await fetch(`${server.inferenceUrl}/v2/repository/index`, { method: 'POST', body: '{"ready": true}' });
  return ((await res.json()) as Entry[]).map((e) => `${e.name}/${e.version}`);
}

/** Waits for the poller to reach a state (each scan is a second apart; mocha's timeout bounds the wait). */
async function until(server: RunningServer, want: string[]): Promise<void> {
  for (;;) {
    const now = await index(server);
    if (JSON.stringify(now) === JSON.stringify(want)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('--model-control-mode=poll: the repository is followed while the server runs', function () {
  let store: TestStore;
  let server: RunningServer;
  let repo: string;

  before(async () => {
    store = await TestStore.create();
    repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), { a: { config: 'max_batch_size: 4', versions: { '1': addOne() } } });
    server = await startTestServer(store, [], { model_repository: repo, model_control_mode: 'poll', repository_poll_secs: '1' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('loads new folders, keeps a model whose new config is broken, reloads changed ones and unloads removed ones', async () => {
    expect(await index(server)).to.deep.equal(['a/1']);
    await writeRepository(repo, { b: { versions: { '1': addOne() } } });
    await until(server, ['a/1', 'b/1']);

    // A broken config for a, and a new model c in the same change: once c is in, that scan also saw a.
    await fs.writeFile(path.join(repo, 'a', 'config.pbtxt'), 'max_batch_size: [');
    await writeRepository(repo, { c: { versions: { '1': addOne() } } });
    await until(server, ['a/1', 'b/1', 'c/1']);
    const served = await fetch(`${server.inferenceUrl}/v2/models/a/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 1, 1, 1] }] }),
    });
    expect(served.status).to.equal(200);

    // A fixed config that serves every version, and a second version folder.
    await fs.writeFile(path.join(repo, 'a', 'config.pbtxt'), 'max_batch_size: 4\nversion_policy: { all { } }');
    await writeRepository(repo, { a: { versions: { '2': identity('FP32', ['N', 4]) } } });
    await until(server, ['a/1', 'a/2', 'b/1', 'c/1']);

    await fs.rm(path.join(repo, 'b'), { recursive: true });
    await until(server, ['a/1', 'a/2', 'c/1']);
  });
});
