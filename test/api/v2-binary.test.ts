import { expect } from 'chai';
import { twoInputs } from '../../scripts/lib/onnx-models.ts';
import type { WireRequest } from '../../src/pool/messages.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { binaryBody, bytesElements, everyType, identity, splitBinary } from '../helpers/v2-models.ts';

function f32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}

async function post(server: RunningServer, model: string, body: Uint8Array, headerLength: number | string | undefined) {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (headerLength !== undefined) headers['inference-header-content-length'] = String(headerLength);
  const res = await fetch(`${server.inferenceUrl}/v2/models/${model}/infer`, { method: 'POST', body, headers });
  const raw = Buffer.from(await res.arrayBuffer());
  const hl = res.headers.get('inference-header-content-length');
  return { status: res.status, headers: res.headers, raw, headerLength: hl === null ? undefined : Number(hl) };
}

/** Little-endian bytes of every datatype's [2,2] test values. */
function bytesOf(t: string): Buffer {
  const b = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  switch (t) {
    case 'BOOL': return Buffer.from([1, 0, 0, 1]);
    case 'UINT8': return Buffer.from([0, 255, 7, 8]);
    case 'UINT16': return b(Uint16Array.of(0, 65535, 1, 2));
    case 'UINT32': return b(Uint32Array.of(0, 4294967295, 1, 2));
    case 'UINT64': return b(BigUint64Array.of(2n ** 64n - 1n, 0n, 1n, 2n ** 53n + 1n));
    case 'INT8': return b(Int8Array.of(-128, 127, 0, 1));
    case 'INT16': return b(Int16Array.of(-32768, 32767, 0, 1));
    case 'INT32': return b(Int32Array.of(-2147483648, 2147483647, 0, 1));
    case 'INT64': return b(BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, -1n, 2n ** 53n + 1n));
    case 'FP16': return b(Uint16Array.of(0x3800, 0xc000, 0x7bff, 0x7e00)); // 0.5, -2, 65504, NaN
    case 'FP32': return f32(0.5, -1.25, NaN, -Infinity);
    case 'FP64': return b(Float64Array.of(0.1, -1e300, Infinity, 5e-324));
    default: return bytesElements('hello', 'wörld', '', '🙂');
  }
}

describe('Open Inference Protocol v2: the binary tensor data extension', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'two', model: twoInputs(), handler: 'echo.js' });
    await store.add({ name: 'every', model: everyType(), handler: 'echo.js' });
    await store.add({ name: 'strings', model: identity('BYTES', ['N']), handler: 'echo.js' });
    await store.add({ name: 'rows', model: identity('FP32', ['N', 'K']), handler: 'echo.js' });
    await store.add({ name: 'images', model: identity('UINT8', ['N', 'H', 'W']), handler: 'echo.js' });
    await store.add({ name: 'accepts', model: identity('FP32'), handler: 'v2-accepts.js' });
    server = await startTestServer(store, ['two.mar', 'every.mar', 'strings.mar', 'rows.mar', 'images.mar', 'accepts.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('takes binary inputs and returns binary and JSON outputs in one response, framed as the extension says', async () => {
    const header = {
      inputs: [
        { name: 'a', shape: [2, 3], datatype: 'FP32', parameters: { binary_data_size: 24 } },
        { name: 'b', shape: [2, 3], datatype: 'FP32', parameters: { binary_data_size: 24 } },
      ],
      outputs: [{ name: 'sum', parameters: { binary_data: true } }, { name: 'prod' }],
    };
    const { body, headerLength } = binaryBody(header, f32(1, 2, 3, 4, 5, 6), f32(10, 10, 10, 0.5, 0.5, 0.5));
    const res = await post(server, 'two', body, headerLength);
    expect(res.status, res.raw.toString()).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/octet-stream');
    expect(res.headerLength).to.be.a('number');
    expect(Number(res.headers.get('content-length'))).to.equal(res.raw.byteLength);
    const { json, rest } = splitBinary(res.raw, res.headerLength!);
    expect(json.outputs).to.deep.equal([
      { name: 'sum', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } },
      { name: 'prod', datatype: 'FP32', shape: [2, 3], data: [10, 20, 30, 2, 2.5, 3] },
    ]);
    expect(rest.equals(f32(11, 12, 13, 4.5, 5.5, 6.5))).to.equal(true);
  });

  it('carries every datatype byte for byte, in and out', async () => {
    const types = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];
    const tensors = types.map(bytesOf);
    const header = {
      parameters: { binary_data_output: true },
      inputs: types.map((t, i) => ({ name: `in_${t}`, shape: [2, 2], datatype: t, parameters: { binary_data_size: tensors[i].byteLength } })),
    };
    const { body, headerLength } = binaryBody(header, ...tensors);
    const res = await post(server, 'every', body, headerLength);
    expect(res.status, res.raw.toString()).to.equal(200);
    const { json, rest } = splitBinary(res.raw, res.headerLength!);
    const outputs = json.outputs as Array<{ name: string; datatype: string; parameters: { binary_data_size: number } }>;
    expect(outputs.map((o) => o.datatype)).to.deep.equal(types);
    let at = 0;
    outputs.forEach((o, i) => {
      const size = o.parameters.binary_data_size;
      expect(rest.subarray(at, at + size).equals(tensors[i]), o.name).to.equal(true);
      at += size;
    });
    expect(at).to.equal(rest.byteLength);
  });

  it('lets binary_data: false on an output override binary_data_output', async () => {
    const header = {
      parameters: { binary_data_output: true },
      inputs: [
        { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
        { name: 'b', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } },
      ],
      outputs: [{ name: 'sum' }, { name: 'prod', parameters: { binary_data: false } }],
    };
    const { body, headerLength } = binaryBody(header, f32(1, 1, 1));
    const res = await post(server, 'two', body, headerLength);
    const { json, rest } = splitBinary(res.raw, res.headerLength!);
    expect(json.outputs).to.deep.equal([
      { name: 'sum', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } },
      { name: 'prod', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
    ]);
    expect(rest.equals(f32(2, 3, 4))).to.equal(true);
  });

  it('sends BYTES as length-prefixed elements both ways', async () => {
    const data = bytesElements('alpha', '', 'ünïcode ✓');
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: 'x', shape: [3], datatype: 'BYTES', parameters: { binary_data_size: data.byteLength } }], outputs: [{ name: 'y', parameters: { binary_data: true } }] },
      data,
    );
    const res = await post(server, 'strings', body, headerLength);
    expect(res.status, res.raw.toString()).to.equal(200);
    const { json, rest } = splitBinary(res.raw, res.headerLength!);
    expect(json.outputs).to.deep.equal([{ name: 'y', datatype: 'BYTES', shape: [3], parameters: { binary_data_size: data.byteLength } }]);
    expect(rest.equals(data)).to.equal(true);
  });

  it('answers a JSON-only response when no output is binary, even for a binary request', async () => {
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: 8 } }] }, f32(7, 8));
    const res = await post(server, 'rows', body, headerLength);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(res.headerLength).to.equal(undefined);
    expect(JSON.parse(res.raw.toString()).outputs).to.deep.equal([{ name: 'y', datatype: 'FP32', shape: [1, 2], data: [7, 8] }]);
  });

  it('treats Inference-Header-Content-Length: 0 as a raw batch-1 body for a one-input model, answering binary', async () => {
    const res = await post(server, 'rows', f32(1, 2, 3, 4), 0);
    expect(res.status, res.raw.toString()).to.equal(200);
    const { json, rest } = splitBinary(res.raw, res.headerLength!);
    expect(json.outputs).to.deep.equal([{ name: 'y', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }]);
    expect(rest.equals(f32(1, 2, 3, 4))).to.equal(true);
  });

  it('takes a raw body for a BYTES input as its one element', async () => {
    const res = await post(server, 'strings', Buffer.from('raw text'), 0);
    expect(res.status, res.raw.toString()).to.equal(200);
    const { json, rest } = splitBinary(res.raw, res.headerLength!);
    expect(json.outputs).to.deep.equal([{ name: 'y', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 12 } }]);
    expect(rest.equals(bytesElements('raw text'))).to.equal(true);
  });

  it('refuses raw bodies it cannot deduce a shape for', async () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['two', f32(1, 2, 3), /needs a model with 1 input; model "two" has 2/],
      ['images', new Uint8Array(16), /more than one variable-sized dimension/],
      ['rows', new Uint8Array(6), /6 bytes is not a whole number of \[-1,-1\] FP32 rows of 4 bytes/],
    ];
    for (const [model, body, message] of cases) {
      const res = await post(server, model, body, 0);
      expect(res.status, model).to.equal(400);
      expect(JSON.parse(res.raw.toString()).error).to.match(message);
    }
  });

  it('gives binary BYTES to a handler with acceptsV2Requests as Buffers, intact', async () => {
    const data = bytesElements(new Uint8Array([0xff, 0x00, 0x80]), 'ok');
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'blob', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: data.byteLength } }] }, data);
    const res = await post(server, 'accepts', body, headerLength);
    expect(res.status, res.raw.toString()).to.equal(200);
    expect(JSON.parse(res.raw.toString()).outputs[0].data).to.deep.equal(['BYTES [2] Array<Buffer>', 'ff0080,6f6b']);
  });

  it('moves tensor bytes to the worker as transferred buffers, not copies', async () => {
    const mv = server.registry.get('two');
    const original = mv.infer.bind(mv);
    let seen: { request: WireRequest; transfer: ArrayBuffer[] } | undefined;
    mv.infer = (request, transfer, key) => {
      seen = { request, transfer };
      return original(request, transfer, key);
    };
    try {
      const header = {
        inputs: [
          { name: 'a', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } },
          { name: 'b', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
        ],
      };
      const { body, headerLength } = binaryBody(header, f32(1, 1, 1));
      expect((await post(server, 'two', body, headerLength)).status).to.equal(200);
    } finally {
      delete (mv as { infer?: unknown }).infer;
    }
    const tensors = seen!.request.v2!.inputs;
    expect(tensors.map((t) => seen!.transfer.includes(t.data.buffer as ArrayBuffer))).to.deep.equal([true, true]);
    expect(tensors.map((t) => t.data.buffer.byteLength)).to.deep.equal([0, 0]); // detached here: moved to the worker
  });

  it('refuses every binary framing mistake with a 400 that says which', async () => {
    const input = (size: number, extra: object = {}) => ({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: size }, ...extra }] });
    const cases: Array<[string, { body: Buffer; headerLength: number | string }, RegExp]> = [
      ['size beyond the body', binaryBody(input(12), f32(1, 2)), /binary_data_size is 12 but only 8 bytes of binary data remain/],
      ['bytes left over', binaryBody(input(8), f32(1, 2, 3)), /4 bytes of binary data that no input's binary_data_size accounts for/],
      ['size not matching the shape', binaryBody(input(4), f32(1)), /binary_data_size is 4 bytes but shape \[1,2\] of FP32 needs 8/],
      ['data and binary both', binaryBody(input(8, { data: [1, 2] }), f32(1, 2)), /has both "data" and a binary_data_size/],
      ['header longer than the body', { body: Buffer.from('{}'), headerLength: 50 }, /Inference-Header-Content-Length is 50 but the body has only 2 bytes/],
      ['header length not a number', { body: Buffer.from('{}'), headerLength: 'abc' }, /must be a non-negative integer, got "abc"/],
      ['JSON header broken', { body: Buffer.from('{"inputs": [oops'), headerLength: 16 }, /the JSON inference header is not valid JSON/],
    ];
    for (const [what, { body, headerLength }, message] of cases) {
      const res = await post(server, 'rows', body, headerLength);
      expect(res.status, what).to.equal(400);
      expect(JSON.parse(res.raw.toString()).error, what).to.match(message);
    }
    const bytes = (data: Buffer, shape: number[]) =>
      binaryBody({ inputs: [{ name: 'x', shape, datatype: 'BYTES', parameters: { binary_data_size: data.byteLength } }] }, data);
    const cut = bytesElements('abcdef').subarray(0, 7);
    const r1 = await post(server, 'strings', ...Object.values(bytes(cut, [1])) as [Buffer, number]);
    expect(JSON.parse(r1.raw.toString()).error).to.match(/BYTES element 0 declares 6 bytes but only 3 remain/);
    const r2 = await post(server, 'strings', ...Object.values(bytes(bytesElements('a', 'b'), [3])) as [Buffer, number]);
    expect(JSON.parse(r2.raw.toString()).error).to.match(/holds 2 BYTES elements but shape \[3\] needs 3/);
  });
});
