/**
 * Dynamic batching of v2 requests, made deterministic: a /predictions request through the `v2-gate.js` handler
 * holds the model's only worker until the test creates a file, so the v2 requests sent meanwhile queue up; the
 * test releases the gate once the batcher holds them all, and the model reports the batch it ran in.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { batchProbe, identity, lookup } from '../helpers/v2-models.ts';

interface Output {
  name: string;
  shape: number[];
  data: number[];
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 2));
}

describe('Open Inference Protocol v2: dynamic batching', function () {
  let store: TestStore;
  let server: RunningServer;
  let gates: string;

  before(async () => {
    store = await TestStore.create();
    gates = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-v2-gate-'));
    const config = 'batchSize: 8\nmaxBatchDelay: 100\n';
    await store.add({ name: 'probe', model: batchProbe(), handler: 'v2-gate.js', config });
    await store.add({ name: 'fixed', model: identity('FP32', [1, 2]), handler: 'v2-gate.js', config });
    await store.add({ name: 'lookup', model: lookup(), handler: 'v2-gate.js', config });
    server = await startTestServer(store, ['probe.mar', 'fixed.mar', 'lookup.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
    await fs.rm(gates, { recursive: true, force: true });
  });

  /** Runs `send` while the model's worker is held, releasing it once `queued` requests wait in the batcher. */
  async function behindGate<T>(model: string, queued: number, send: () => Promise<T>[]): Promise<T[]> {
    const flag = path.join(gates, `${model}-${Date.now()}`);
    const gate = fetch(`${server.inferenceUrl}/predictions/${model}`, {
      method: 'POST',
      body: JSON.stringify({ waitFor: flag }),
      headers: { 'content-type': 'application/json' },
    });
    const batcher = server.registry.get(model).batcher;
    await until(() => batcher.active === 1);
    const pending = send();
    await until(() => batcher.pending === queued);
    await fs.writeFile(flag, '');
    expect((await gate).status).to.equal(200);
    return Promise.all(pending);
  }

  const infer = (model: string, body: object) =>
    fetch(`${server.inferenceUrl}/v2/models/${model}/infer`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    }).then(async (r) => ({ status: r.status, json: (await r.json()) as { outputs: Output[]; error?: string } }));

  it('runs concurrent same-shape requests as one batch, and other shapes and output sets in batches of their own', async () => {
    const x = (rows: number, cols: number, seed: number) => Array.from({ length: rows * cols }, (_, i) => seed + i);
    const req = (rows: number, cols: number, seed: number, outputs?: string[]) => ({
      inputs: [{ name: 'x', shape: [rows, cols], datatype: 'FP32', data: x(rows, cols, seed) }],
      ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
    });
    const plan = [
      { group: 'A', body: req(1, 2, 10) },
      { group: 'B', body: req(2, 3, 20) },
      { group: 'A', body: req(1, 2, 30) },
      { group: 'C', body: req(1, 2, 40, ['rows']) },
      { group: 'A', body: req(1, 2, 50) },
      { group: 'B', body: req(2, 3, 60) },
      { group: 'C', body: req(1, 2, 70, ['rows']) },
    ];
    const results = await behindGate('probe', plan.length, () => plan.map((p) => infer('probe', p.body)));
    // The rows each request's batch had: A = 3 requests × 1 row, B = 2 × 2 rows, C = 2 × 1 row (other outputs).
    const expectedRows: Record<string, number> = { A: 3, B: 4, C: 2 };
    results.forEach((res, i) => {
      const { group, body } = plan[i];
      const input = body.inputs[0];
      expect(res.status, group).to.equal(200);
      const rows = res.json.outputs.find((o) => o.name === 'rows')!;
      expect(rows.shape, group).to.deep.equal(input.shape);
      expect(new Set(rows.data), group).to.deep.equal(new Set([expectedRows[group]]));
      const same = res.json.outputs.find((o) => o.name === 'same');
      if (group === 'C') expect(same).to.equal(undefined);
      else expect(same!.data, group).to.deep.equal(input.data); // each request gets its own rows back
    });
  });

  it('does not concatenate for a model whose dim 0 is fixed, and answers each request right', async () => {
    const bodies = [1, 2, 3].map((v) => ({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [v, -v] }] }));
    const results = await behindGate('fixed', 3, () => bodies.map((b) => infer('fixed', b)));
    expect(results.map((r) => r.json.outputs[0].data)).to.deep.equal([[1, -1], [2, -2], [3, -3]]);
  });

  it('fails only the request that breaks a batch, and answers the others', async () => {
    const ids = [[0], [7], [2]];
    const results = await behindGate('lookup', 3, () =>
      ids.map((id) => infer('lookup', { inputs: [{ name: 'ids', shape: [1, 1], datatype: 'INT64', data: id }] })),
    );
    expect(results[0].status).to.equal(200);
    expect(results[0].json.outputs[0].data).to.deep.equal([0, 0]);
    expect(results[2].json.outputs[0].data).to.deep.equal([2, 2]);
    expect(results[1].status).to.equal(500); // onnxruntime does not say whose fault a failed run is
    expect(results[1].json.error).to.match(/model "lookup" could not run the request: .*out of (data )?bounds/i);
  });
});
