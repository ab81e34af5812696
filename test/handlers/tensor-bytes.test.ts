import { expect } from 'chai';
import path from 'node:path';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { bytesElements, identity } from '../helpers/v2-models.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
async function post(server: RunningServer, p: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(`${server.inferenceUrl}${p}`, { method: 'POST', headers, body: body instanceof Buffer ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as any };
}

describe('the tensor handler and v2 with ONNX string (BYTES) tensors', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), { words: { bare: identity('BYTES', ['N', 2]) } });
    server = await startTestServer(store, [], { model_repository: repo });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('takes and gives JSON strings through /predictions, batched requests included', async () => {
    const answers = await Promise.all([
      post(server, '/predictions/words', { inputs: { x: [['héllo', 'wörld']] } }),
      post(server, '/predictions/words', [['a', ''], ['b', '✓']]),
    ]);
    expect(answers).to.deep.equal([
      { status: 200, json: { outputs: { y: [['héllo', 'wörld']] } } },
      { status: 200, json: { outputs: { y: [['a', ''], ['b', '✓']] } } },
    ]);
    const bad = await post(server, '/predictions/words', { inputs: { x: [['a', 3]] } });
    expect(bad).to.deep.equal({ status: 400, json: { code: 400, type: 'BadRequestException', message: 'input "x": element [0,1] is 3, expected string' } });
  });

  it('serves BYTES over v2, as JSON strings and as length-prefixed binary', async () => {
    const r = await post(server, '/v2/models/words/infer', { inputs: [{ name: 'x', shape: [1, 2], datatype: 'BYTES', data: ['tri', 'ton'] }] });
    expect(r.json.outputs).to.deep.equal([{ name: 'y', datatype: 'BYTES', shape: [1, 2], data: ['tri', 'ton'] }]);
    const data = bytesElements('a', 'bc');
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'BYTES', parameters: { binary_data_size: data.byteLength } }] }));
    const b = await post(server, '/v2/models/words/infer', Buffer.concat([header, data]), { 'inference-header-content-length': String(header.byteLength) });
    expect(b.json.outputs[0].data).to.deep.equal(['a', 'bc']);
    const meta = await (await fetch(`${server.inferenceUrl}/v2/models/words`)).json();
    expect(meta).to.deep.include({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [-1, 2] }] });
    const cfg = (await (await fetch(`${server.inferenceUrl}/v2/models/words/config`)).json()) as any;
    expect(cfg.input[0]).to.include({ name: 'x', data_type: 'TYPE_STRING' });
  });
});
