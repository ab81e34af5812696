import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { lookup } from '../helpers/v2-models.ts';

const warmup = (sample: string) =>
  `max_batch_size: 4\nmodel_warmup [{ name: "sample" batch_size: 2 count: 2 inputs { key: "ids" value: { data_type: TYPE_INT64 dims: [1] ${sample} } } }]`;

async function load(server: RunningServer, name: string) {
  const res = await fetch(`${server.inferenceUrl}/v2/repository/models/${name}/load`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  return { status: res.status, json: (await res.json()) as { error?: string } };
}

// The lookup model gathers rows 0-2 of a table: an id of 3 or more makes onnxruntime fail the run, so a warm-up
// sample with such an id shows the sample really runs before the model is READY.
describe("Triton's model_warmup: the model is not READY until its samples have run", function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      zeros: { config: warmup('zero_data: true'), versions: { '1': lookup() } },
      fromFile: { config: warmup('input_data_file: "ids.bin"'), versions: { '1': lookup() } },
      badFile: { config: warmup('input_data_file: "ids.bin"'), versions: { '1': lookup() } },
      noFile: { config: warmup('input_data_file: "absent.bin"'), versions: { '1': lookup() } },
      wrongInput: { config: warmup('zero_data: true').replace('key: "ids"', 'key: "idz"'), versions: { '1': lookup() } },
    });
    const ids = (values: bigint[]) => Buffer.from(new BigInt64Array(values).buffer);
    for (const [model, values] of [['fromFile', [1n, 2n]], ['badFile', [0n, 7n]]] as const) {
      await fs.mkdir(path.join(repo, model, 'warmup'));
      await fs.writeFile(path.join(repo, model, 'warmup', 'ids.bin'), ids([...values]));
    }
    server = await startTestServer(store, [], { model_repository: repo, model_control_mode: 'explicit' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('loads after zero, file and (in range) samples, and then serves; warm-up runs are not counted', async () => {
    for (const name of ['zeros', 'fromFile']) expect((await load(server, name)).status, name).to.equal(200);
    const stats = (await (await fetch(`${server.inferenceUrl}/v2/models/zeros/stats`)).json()) as { model_stats: Array<{ inference_count: number }> };
    expect(stats.model_stats[0].inference_count).to.equal(0);
    const res = await fetch(`${server.inferenceUrl}/v2/models/zeros/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'ids', shape: [1, 1], datatype: 'INT64', data: [2] }] }),
    });
    expect(((await res.json()) as { outputs: Array<{ data: number[] }> }).outputs[0].data).to.deep.equal([2, 2]);
  });

  it('fails the load when a sample fails, naming it, and when its file or input is wrong', async () => {
    const bad = await load(server, 'badFile');
    expect(bad.status).to.equal(400);
    expect(bad.json.error).to.match(/^badFile\/config\.pbtxt: model_warmup\[0\] "sample" failed: /);
    const none = await load(server, 'noFile');
    expect(none.json.error).to.equal('noFile/config.pbtxt: model_warmup[0] "sample": input_data_file "absent.bin" is missing from the model\'s warmup folder');
    const wrong = await load(server, 'wrongInput');
    expect(wrong.json.error).to.equal('wrongInput/config.pbtxt: model_warmup[0].inputs "idz" is not an input of the model');
    const index = (await (await fetch(`${server.inferenceUrl}/v2/repository/index`, { method: 'POST', body: '{"ready": true}' })).json()) as Array<{ name: string }>;
    expect(index.map((e) => e.name)).to.deep.equal(['fromFile', 'zeros']);
  });
});
