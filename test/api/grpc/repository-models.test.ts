/**
 * gRPC over Triton repository models (config.pbtxt + <version>/model.onnx): ModelInfer with the classification
 * extension answers the same class strings as REST, and ModelConfig answers the repository's config.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import type { RunningServer } from '../../../src/server.ts';
import { client, close, unary, type Client } from '../../helpers/grpc.ts';
import { writeRepository } from '../../helpers/repository.ts';
import { startTestServer, TestStore } from '../../helpers/server.ts';
import { identity } from '../../helpers/v2-models.ts';

function strings(b: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < b.length; ) {
    const n = b.readUInt32LE(at);
    out.push(b.subarray(at + 4, at + 4 + n).toString());
    at += 4 + n;
  }
  return out;
}

describe('gRPC: Triton repository models', function () {
  let store: TestStore;
  let server: RunningServer;
  let c: Client;

  before(async () => {
    store = await TestStore.create();
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      labelled: { config: 'max_batch_size: 8\noutput [{ name: "y", data_type: TYPE_FP32, dims: [4], label_filename: "labels.txt" }]', versions: { '1': identity('FP32', ['N', 4]) } },
    });
    await fs.writeFile(path.join(repo, 'labelled', 'labels.txt'), 'cat\ndog\nbird\nfish\n');
    server = await startTestServer(store, [], { model_repository: repo });
    c = client('triton', server.grpcInferenceTarget);
  });
  after(async () => {
    close(c);
    await server?.stop();
    await store?.remove();
  });

  it('answers the classification extension as REST does', async () => {
    const data = [0.1, 0.7, 0.2, 0, 0.9, 0, 0, 0.05];
    const res = await unary(c, 'ModelInfer', {
      model_name: 'labelled',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], contents: { fp32_contents: data } }],
      outputs: [{ name: 'y', parameters: { classification: { int64_param: '2' } } }],
    });
    expect(res.outputs[0]).to.include({ name: 'y', datatype: 'BYTES' });
    expect(res.outputs[0].shape).to.deep.equal(['2', '2']);
    const rest = (await (
      await fetch(`${server.inferenceUrl}/v2/models/labelled/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data }], outputs: [{ name: 'y', parameters: { classification: 2 } }] }),
      })
    ).json()) as { outputs: Array<{ data: string[] }> };
    expect(strings(Buffer.from(res.raw_output_contents[0]))).to.deep.equal(rest.outputs[0].data);
    expect(rest.outputs[0].data).to.deep.equal(['0.700000:1:dog', '0.200000:2:bird', '0.900000:0:cat', '0.050000:3:fish']);
  });

  it('ModelConfig answers the repository config', async () => {
    const { config } = await unary(c, 'ModelConfig', { name: 'labelled' });
    expect(config.name).to.equal('labelled');
    expect(config.max_batch_size).to.equal(8);
    expect(config.output[0]).to.include({ name: 'y', data_type: 'TYPE_FP32', label_filename: 'labels.txt' });
  });
});
