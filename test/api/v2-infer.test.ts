import { expect } from 'chai';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { everyType, identity } from '../helpers/v2-models.ts';
import { addOne, twoInputs } from '../../scripts/lib/onnx-models.ts';

interface Output {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: Record<string, unknown>;
}
interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: Output[];
  parameters?: Record<string, unknown>;
}

/** Every datatype: what a client sends (nested, [2,2]) and what comes back (flat), JSON-parsed. */
const CASES: Record<string, { send: unknown[][]; back: unknown[] }> = {
  BOOL: { send: [[true, false], [false, true]], back: [true, false, false, true] },
  UINT8: { send: [[0, 255], [7, 8]], back: [0, 255, 7, 8] },
  UINT16: { send: [[0, 65535], [1, 2]], back: [0, 65535, 1, 2] },
  UINT32: { send: [[0, 4294967295], [1, 2]], back: [0, 4294967295, 1, 2] },
  UINT64: { send: [['18446744073709551615', 0], [1, 9007199254740991]], back: [18446744073709551615, 0, 1, 9007199254740991] },
  INT8: { send: [[-128, 127], [0, 1]], back: [-128, 127, 0, 1] },
  INT16: { send: [[-32768, 32767], [0, 1]], back: [-32768, 32767, 0, 1] },
  INT32: { send: [[-2147483648, 2147483647], [0, 1]], back: [-2147483648, 2147483647, 0, 1] },
  INT64: { send: [['-9223372036854775808', '9223372036854775807'], [-1, 2]], back: [-9223372036854775808, 9223372036854775807, -1, 2] },
  FP16: { send: [[0.5, -2], [65504, 0.1]], back: [0.5, -2, 65504, 0.0999755859375] },
  FP32: { send: [[0.5, -1.25], [1e-3, 'NaN']], back: [0.5, -1.25, Math.fround(1e-3), 'NaN'] },
  FP64: { send: [[0.1, -1e300], ['Infinity', '-Infinity']], back: [0.1, -1e300, 'Infinity', '-Infinity'] },
  BYTES: { send: [['hello', 'wörld'], ['', '🙂']], back: ['hello', 'wörld', '', '🙂'] },
};

async function infer(server: RunningServer, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.inferenceUrl}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) as InferResponse & { error?: string } };
}

describe('Open Inference Protocol v2: JSON inference', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'every', model: everyType(), handler: 'echo.js' });
    await store.add({ name: 'add', model: addOne(), handler: 'tensor', version: '2.0' });
    await store.add({ name: 'two', model: twoInputs(), handler: 'tensor' });
    await store.add({ name: 'scalar', model: identity('INT64', []), handler: 'echo.js' });
    await store.add({ name: 'accepts', model: addOne(), handler: 'v2-accepts.js', config: 'batchSize: 4\n' });
    server = await startTestServer(store, ['every.mar', 'add.mar', 'two.mar', 'scalar.mar', 'accepts.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('runs every datatype onnxruntime supports, nested data in, flat data out', async () => {
    const inputs = Object.entries(CASES).map(([t, c]) => ({ name: `in_${t}`, shape: [2, 2], datatype: t, data: c.send }));
    const res = await infer(server, '/v2/models/every/infer', { id: 'all-types', inputs });
    expect(res.status, res.text).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(res.json).to.include({ model_name: 'every', model_version: '1.0', id: 'all-types' });
    expect(res.json.outputs.map((o) => o.name)).to.deep.equal(Object.keys(CASES).map((t) => `out_${t}`));
    for (const o of res.json.outputs) {
      const t = o.name.slice(4);
      expect(o.datatype, o.name).to.equal(t);
      expect(o.shape, o.name).to.deep.equal([2, 2]);
      expect(o.data, o.name).to.deep.equal(CASES[t].back);
    }
    // 64-bit integers are written exactly, digit for digit.
    expect(res.text).to.contain('[18446744073709551615,0,1,9007199254740991]');
    expect(res.text).to.contain('[-9223372036854775808,9223372036854775807,-1,2]');
  });

  it('takes flat data as well as nested, and answers in the order of the requested outputs', async () => {
    const res = await infer(server, '/v2/models/two/infer', {
      inputs: [
        { name: 'b', shape: [2, 3], datatype: 'FP32', data: [1, 1, 1, 2, 2, 2] },
        { name: 'a', shape: [2, 3], datatype: 'FP32', data: [[1, 2, 3], [4, 5, 6]] },
      ],
      outputs: [{ name: 'prod' }, { name: 'sum' }],
    });
    expect(res.status, res.text).to.equal(200);
    expect(res.json.outputs).to.deep.equal([
      { name: 'prod', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 8, 10, 12] },
      { name: 'sum', datatype: 'FP32', shape: [2, 3], data: [2, 3, 4, 6, 7, 8] },
    ]);
  });

  it('returns only the outputs asked for', async () => {
    const res = await infer(server, '/v2/models/two/infer', {
      inputs: [
        { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
        { name: 'b', shape: [1, 3], datatype: 'FP32', data: [3, 2, 1] },
      ],
      outputs: [{ name: 'sum' }],
    });
    expect(res.json.outputs).to.deep.equal([{ name: 'sum', datatype: 'FP32', shape: [1, 3], data: [4, 4, 4] }]);
  });

  it('echoes the id, or uses the request id when none is given; accepts parameters', async () => {
    const body = { parameters: { priority: 1, tag: 'x', flag: true }, inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };
    const withId = await infer(server, '/v2/models/add/infer', { id: 'req-7', ...body });
    expect(withId.status, withId.text).to.equal(200);
    expect(withId.json).to.deep.equal({
      model_name: 'add',
      model_version: '2.0',
      id: 'req-7',
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 4], data: [2, 3, 4, 5] }],
    });
    const noId = await infer(server, '/v2/models/add/infer', body, { 'x-request-id': 'client-id-1' });
    expect(noId.json.id).to.equal('client-id-1');
  });

  it('serves a named version, and 404s an unknown one', async () => {
    const body = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] };
    const ok = await infer(server, '/v2/models/add/versions/2.0/infer', body);
    expect(ok.status).to.equal(200);
    expect(ok.json.outputs[0].data).to.deep.equal([1, 1, 1, 1]);
    const missing = await infer(server, '/v2/models/add/versions/9/infer', body);
    expect(missing.status).to.equal(404);
    expect(missing.json).to.deep.equal({ error: 'Model version: 9 does not exist for model: add' });
  });

  it('runs a scalar (rank-0) input', async () => {
    const res = await infer(server, '/v2/models/scalar/infer', { inputs: [{ name: 'x', shape: [], datatype: 'INT64', data: [42] }] });
    expect(res.status, res.text).to.equal(200);
    expect(res.json.outputs).to.deep.equal([{ name: 'y', datatype: 'INT64', shape: [], data: [42] }]);
  });

  it('hands the decoded request to a handler that sets acceptsV2Requests, unchecked against the model', async () => {
    const res = await infer(server, '/v2/models/accepts/infer', {
      id: 'h1',
      inputs: [
        { name: 'image', shape: [2], datatype: 'BYTES', data: ['ab', 'c'] },
        { name: 'half', shape: [1], datatype: 'FP16', data: [1] },
        { name: 'big', shape: [1], datatype: 'INT64', data: ['-5'] },
      ],
    });
    expect(res.status, res.text).to.equal(200);
    expect(res.json.model_name).to.equal('accepts');
    expect(res.json.id).to.equal('h1');
    expect(res.json.parameters).to.deep.equal({ batch: 1, request_id: 'h1' });
    expect(res.json.outputs.map((o) => o.data)).to.deep.equal([
      ['BYTES [2] Array<Buffer>', '6162,63'],
      ['FP16 [1] Uint16Array', '15360'],
      ['INT64 [1] BigInt64Array', '-5'],
    ]);
  });
});
