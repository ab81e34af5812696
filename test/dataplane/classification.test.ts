import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { identity, splitBinary } from '../helpers/v2-models.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
async function infer(server: RunningServer, model: string, body: unknown): Promise<{ status: number; json: any; res: Response }> {
  const res = await fetch(`${server.inferenceUrl}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = Buffer.from(await res.arrayBuffer());
  const length = res.headers.get('inference-header-content-length');
  return { status: res.status, json: length ? splitBinary(text, Number(length)).json : JSON.parse(text.toString()), res };
}

const scores = (shape: number[], data: number[], parameters: Record<string, unknown> = { classification: 2 }) => ({
  inputs: [{ name: 'x', shape, datatype: 'FP32', data }],
  outputs: [{ name: 'y', parameters }],
});

describe("Triton's classification extension", function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      labelled: { config: 'max_batch_size: 8\noutput [{ name: "y", data_type: TYPE_FP32, dims: [4], label_filename: "labels.txt" }]', versions: { '1': identity('FP32', ['N', 4]) } },
      unbatched: { config: 'max_batch_size: 0', versions: { '1': identity('FP32', [4]) } },
      ints: { versions: { '1': identity('INT64', ['N', 3]) } },
      strings: { versions: { '1': identity('BYTES', ['N', 2]) } },
    });
    await fs.writeFile(path.join(repo, 'labelled', 'labels.txt'), 'cat\ndog\nbird\nfish\n');
    server = await startTestServer(store, [], { model_repository: repo });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('answers the top K of each batch entry as "value:index:label" strings, highest first', async () => {
    const r = await infer(server, 'labelled', scores([2, 4], [0.1, 0.7, 0.2, 0, 0.9, 0, 0, 0.05]));
    expect(r.status).to.equal(200);
    expect(r.json.outputs).to.deep.equal([
      { name: 'y', datatype: 'BYTES', shape: [2, 2], data: ['0.700000:1:dog', '0.200000:2:bird', '0.900000:0:cat', '0.050000:3:fish'] },
    ]);
  });

  it('has no batch dimension for a model without one, no labels without label_filename, and integers as integers', async () => {
    const u = await infer(server, 'unbatched', scores([4], [3, 1, 4, 1], { classification: 3 }));
    expect(u.json.outputs[0]).to.deep.equal({ name: 'y', datatype: 'BYTES', shape: [3], data: ['4.000000:2', '3.000000:0', '1.000000:1'] });
    const i = await infer(server, 'ints', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'INT64', data: [5, -2, 9] }], outputs: [{ name: 'y', parameters: { classification: 9 } }] });
    expect(i.json.outputs[0]).to.deep.equal({ name: 'y', datatype: 'BYTES', shape: [1, 3], data: ['9:2', '5:0', '-2:1'] });
  });

  it('sends the class strings as binary BYTES when asked', async () => {
    const r = await infer(server, 'labelled', scores([1, 4], [0, 0, 1, 0], { classification: 1, binary_data: true }));
    expect(r.json.outputs[0]).to.deep.equal({ name: 'y', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: 4 + '1.000000:2:bird'.length } });
  });

  it("refuses bad counts and outputs that cannot be classified with Triton's words", async () => {
    expect((await infer(server, 'labelled', scores([1, 4], [0, 0, 1, 0], { classification: 'two' }))).json).to.deep.equal({
      error: `invalid value type for 'classification' parameter of output "y", expected integer`,
    });
    expect((await infer(server, 'labelled', scores([1, 4], [0, 0, 1, 0], { classification: -1 }))).json).to.deep.equal({
      error: `invalid value for 'classification' parameter of output "y", expected >= 0`,
    });
    const s = await infer(server, 'strings', { inputs: [{ name: 'x', shape: [1, 2], datatype: 'BYTES', data: ['a', 'b'] }], outputs: [{ name: 'y', parameters: { classification: 1 } }] });
    expect(s.status).to.equal(400);
    expect(s.json).to.deep.equal({ error: `class result not available for output "y" due to unsupported type 'BYTES'` });
  });
});
