import { expect } from 'chai';
import { addOne, twoInputs } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { identity } from '../helpers/v2-models.ts';

async function send(server: RunningServer, path: string, body: string | object, init: { method?: string; type?: string } = {}) {
  const res = await fetch(`${server.inferenceUrl}${path}`, {
    method: init.method ?? 'POST',
    body: init.method === 'GET' ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    headers: init.type === '' ? {} : { 'content-type': init.type ?? 'application/json' },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) as { error: string } };
}

const x = (data: unknown, extra: object = {}) => ({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data, ...extra }] });

describe('Open Inference Protocol v2: errors', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'add', model: addOne(), handler: 'echo.js' });
    await store.add({ name: 'two', model: twoInputs(), handler: 'echo.js' });
    await store.add({ name: 'u8', model: identity('UINT8'), handler: 'echo.js' });
    await store.add({ name: 'i64', model: identity('INT64'), handler: 'echo.js' });
    await store.add({ name: 'nomodel', handler: 'echo.js' });
    server = await startTestServer(store, ['add.mar', 'two.mar', 'u8.mar', 'i64.mar', 'nomodel.mar'], { max_request_size: '4096', max_response_size: '2000' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('answers a mismatch with the model with a 400 naming the input, the expected and the given', async () => {
    const cases: Array<[string, string, object, string]> = [
      ['wrong datatype', 'add', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'INT32', data: [1, 2, 3, 4] }] }, 'input "x": model "add" expects datatype FP32, got INT32'],
      ['wrong shape', 'add', { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, 'input "x": model "add" expects shape [-1,4], got [1,3]'],
      ['wrong rank', 'add', { inputs: [{ name: 'x', shape: [4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, 'input "x": model "add" expects shape [-1,4], got [4]'],
      ['unknown input', 'add', { inputs: [{ name: 'z', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, 'unknown input "z": model "add" has inputs "x"'],
      ['missing input', 'two', { inputs: [{ name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, 'missing input "b" (FP32 [-1,3]) for model "two"'],
      ['unknown output', 'add', { ...x([1, 2, 3, 4]), outputs: [{ name: 'nope' }] }, 'unknown output "nope": model "add" has outputs "y"'],
    ];
    for (const [what, model, body, message] of cases) {
      const res = await send(server, `/v2/models/${model}/infer`, body);
      expect(res.status, what).to.equal(400);
      expect(res.json, what).to.deep.equal({ error: message });
    }
  });

  it('refuses data that does not fit its shape or datatype', async () => {
    const u8 = (data: unknown) => ({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'UINT8', data }] });
    const i64 = (data: unknown) => ({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'INT64', data }] });
    const cases: Array<[string, string, object | string, RegExp]> = [
      ['too few elements', 'add', x([1, 2, 3]), /input "x": data has 3 elements but shape \[1,4\] needs 4/],
      ['nesting unlike the shape', 'add', x([[1, 2], [3, 4]]), /nested data does not match shape \[1,4\]: dimension 0 has 2 entries, expected 1/],
      ['a string for FP32', 'add', x([1, 'two', 3, 4]), /element 1 is the string "two", expected a number/],
      ['NaN for an integer type', 'u8', u8([1, 'NaN']), /input "x": element 1 is the string "NaN", expected an integer for UINT8/],
      ['a bare NaN token', 'add', '{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[NaN,1,2,3]}]}', /not valid JSON/],
      ['out of range', 'u8', u8([1, 300]), /element 1 = 300 is out of range \[0, 255\] for UINT8/],
      ['a fraction for an integer type', 'u8', u8([1.5, 2]), /element 0 is 1.5, expected an integer for UINT8/],
      ['an integer JSON rounded', 'i64', i64([9007199254740993, 1]), /beyond 2\^53 and was rounded by JSON; send it as a string/],
      ['INT64 out of range', 'i64', i64(['9223372036854775808', 1]), /element 0 = 9223372036854775808 is out of range for INT64/],
      ['a negative shape', 'add', { inputs: [{ name: 'x', shape: [-1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, /input "x": shape must be an array of non-negative integers/],
      ['an unknown datatype', 'add', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP8', data: [1, 2, 3, 4] }] }, /unknown datatype "FP8"; expected one of BOOL, UINT8/],
      ['BF16', 'add', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'BF16', data: [1, 2, 3, 4] }] }, /BF16 is not supported/],
      ['an input twice', 'add', { inputs: [x([1, 2, 3, 4]).inputs[0], x([1, 2, 3, 4]).inputs[0]] }, /input "x" is given twice/],
      ['no inputs', 'add', { inputs: [] }, /"inputs" must be a non-empty array/],
      ['no data', 'add', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32' }] }, /input "x" has no "data"/],
      ['not an object', 'add', [1, 2], /the inference request must be a JSON object/],
      ['a non-string id', 'add', { id: 5, ...x([1, 2, 3, 4]) }, /"id" must be a string/],
      ['an object parameter', 'add', { parameters: { a: {} }, ...x([1, 2, 3, 4]) }, /parameter "a" must be a string, number or boolean/],
      ['binary_data not a bool', 'add', { ...x([1, 2, 3, 4]), outputs: [{ name: 'y', parameters: { binary_data: 'yes' } }] }, /output "y": parameter "binary_data" must be true or false/],
      ['an empty body', 'add', '', /the inference request is empty/],
    ];
    for (const [what, model, body, message] of cases) {
      const res = await send(server, `/v2/models/${model}/infer`, body);
      expect(res.status, what).to.equal(400);
      expect(res.json.error, what).to.match(message);
    }
  });

  it('keeps the v2 error shape for 404, 405, 413, 415 and 501', async () => {
    const unknown = await send(server, '/v2/models/nope/infer', x([1, 2, 3, 4]));
    expect([unknown.status, unknown.json]).to.deep.equal([404, { error: 'Model not found: nope' }]);
    const meta = await send(server, '/v2/models/nope', '', { method: 'GET' });
    expect([meta.status, meta.json]).to.deep.equal([404, { error: 'Model not found: nope' }]);
    const path = await send(server, '/v2/models/add/statistics', '', { method: 'GET' });
    expect([path.status, path.json]).to.deep.equal([404, { error: 'no such endpoint: GET /v2/models/add/statistics' }]);
    const method = await send(server, '/v2/models/add/infer', '', { method: 'GET' });
    expect(method.status).to.equal(405);
    expect(method.headers.get('allow')).to.contain('POST');
    expect(method.json.error).to.match(/method GET is not allowed on \/v2\/models\/add\/infer/);
    const big = await send(server, '/v2/models/add/infer', x(new Array(2000).fill(1.5)));
    expect([big.status, big.json]).to.deep.equal([413, { error: 'request body is larger than max_request_size (4096 bytes)' }]);
    const type = await send(server, '/v2/models/add/infer', '<x/>', { type: 'text/html' });
    expect(type.status).to.equal(415);
    expect(type.json.error).to.match(/content type "text\/html" is not supported/);
    const none = await send(server, '/v2/models/nomodel/infer', x([1, 2, 3, 4]));
    expect(none.status).to.equal(501);
    expect(none.json.error).to.match(/model "nomodel" has no serializedFile .* acceptsV2Requests/);
  });

  it('refuses a response over max_response_size with a 500 that says so', async () => {
    const rows = 150;
    const values = Buffer.alloc(rows * 16);
    for (let i = 0; i < rows * 4; i++) values.writeFloatLE(0.1, i * 4);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 4], datatype: 'FP32', parameters: { binary_data_size: values.byteLength } }] }));
    const res = await fetch(`${server.inferenceUrl}/v2/models/add/infer`, {
      method: 'POST',
      body: Buffer.concat([header, values]),
      headers: { 'inference-header-content-length': String(header.byteLength) },
    });
    expect(res.status).to.equal(500);
    expect(((await res.json()) as { error: string }).error).to.match(/the response of \d+ bytes is over max_response_size \(2000 bytes\)/);
  });

  it('still serves after every error, and leaves the TorchServe error shape on other routes', async () => {
    const ok = await send(server, '/v2/models/add/infer', x([1, 2, 3, 4]), { type: '' });
    expect(ok.status, ok.text).to.equal(200);
    const ts = await send(server, '/predictions/nope', {});
    expect(ts.json).to.include({ code: 404, type: 'ModelNotFoundException' });
  });
});
