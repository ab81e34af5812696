/**
 * One data plane: the same tensors give the same answer over REST (v2 JSON and binary) and over gRPC
 * (ModelInfer with typed contents and with raw_input_contents), for every datatype, byte for byte.
 */
import { expect } from 'chai';
import type { RunningServer } from '../../../src/server.ts';
import { client, close, unary, type Client } from '../../helpers/grpc.ts';
import { startTestServer, TestStore } from '../../helpers/server.ts';
import { ALL_TYPES, binaryBody, bytesElements, everyType, splitBinary } from '../../helpers/v2-models.ts';

const b = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Each datatype's [2,2] test values: JSON for REST, the typed contents field and values for gRPC, and the bytes. */
const CASES: Record<string, { json: unknown[]; field?: string; typed?: unknown[]; bytes: Buffer }> = {
  BOOL: { json: [true, false, false, true], field: 'bool_contents', typed: [true, false, false, true], bytes: Buffer.from([1, 0, 0, 1]) },
  UINT8: { json: [0, 255, 7, 8], field: 'uint_contents', typed: [0, 255, 7, 8], bytes: Buffer.from([0, 255, 7, 8]) },
  UINT16: { json: [0, 65535, 1, 2], field: 'uint_contents', typed: [0, 65535, 1, 2], bytes: b(Uint16Array.of(0, 65535, 1, 2)) },
  UINT32: { json: [0, 4294967295, 1, 2], field: 'uint_contents', typed: [0, 4294967295, 1, 2], bytes: b(Uint32Array.of(0, 4294967295, 1, 2)) },
  UINT64: {
    json: ['18446744073709551615', 0, 1, '9007199254740993'],
    field: 'uint64_contents',
    typed: ['18446744073709551615', '0', '1', '9007199254740993'],
    bytes: b(BigUint64Array.of(2n ** 64n - 1n, 0n, 1n, 2n ** 53n + 1n)),
  },
  INT8: { json: [-128, 127, 0, 1], field: 'int_contents', typed: [-128, 127, 0, 1], bytes: b(Int8Array.of(-128, 127, 0, 1)) },
  INT16: { json: [-32768, 32767, 0, 1], field: 'int_contents', typed: [-32768, 32767, 0, 1], bytes: b(Int16Array.of(-32768, 32767, 0, 1)) },
  INT32: { json: [-2147483648, 2147483647, 0, 1], field: 'int_contents', typed: [-2147483648, 2147483647, 0, 1], bytes: b(Int32Array.of(-2147483648, 2147483647, 0, 1)) },
  INT64: {
    json: ['-9223372036854775808', '9223372036854775807', -1, '9007199254740993'],
    field: 'int64_contents',
    typed: ['-9223372036854775808', '9223372036854775807', '-1', '9007199254740993'],
    bytes: b(BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, -1n, 2n ** 53n + 1n)),
  },
  FP16: { json: [0.5, -2, 65504, 'NaN'], bytes: b(Uint16Array.of(0x3800, 0xc000, 0x7bff, 0x7e00)) }, // raw only, as in Triton
  FP32: { json: [0.5, -1.25, 'NaN', '-Infinity'], field: 'fp32_contents', typed: [0.5, -1.25, NaN, -Infinity], bytes: b(Float32Array.of(0.5, -1.25, NaN, -Infinity)) },
  FP64: { json: [0.1, -1e300, 'Infinity', 5e-324], field: 'fp64_contents', typed: [0.1, -1e300, Infinity, 5e-324], bytes: b(Float64Array.of(0.1, -1e300, Infinity, 5e-324)) },
  BYTES: {
    json: ['hello', 'wörld', '', '🙂'],
    field: 'bytes_contents',
    typed: ['hello', 'wörld', '', '🙂'].map((s) => Buffer.from(s, 'utf8')),
    bytes: bytesElements('hello', 'wörld', '', '🙂'),
  },
};
const TYPED = ALL_TYPES.filter((t) => CASES[t].field !== undefined);

interface Output {
  name: string;
  datatype: string;
  shape: number[];
  bytes: Buffer;
}

/** REST: the answer with every output as binary data, split into tensors by their binary_data_size. */
async function rest(server: RunningServer, model: string, body: Buffer, headerLength?: number): Promise<Output[]> {
  const headers: Record<string, string> = { 'content-type': headerLength === undefined ? 'application/json' : 'application/octet-stream' };
  if (headerLength !== undefined) headers['inference-header-content-length'] = String(headerLength);
  const res = await fetch(`${server.inferenceUrl}/v2/models/${model}/infer`, { method: 'POST', body, headers });
  const raw = Buffer.from(await res.arrayBuffer());
  expect(res.status, raw.toString()).to.equal(200);
  const { json, rest: blobs } = splitBinary(raw, Number(res.headers.get('inference-header-content-length')));
  let at = 0;
  return (json.outputs as Array<{ name: string; datatype: string; shape: number[]; parameters: { binary_data_size: number } }>).map((o) => {
    const n = o.parameters.binary_data_size;
    at += n;
    return { name: o.name, datatype: o.datatype, shape: o.shape, bytes: blobs.subarray(at - n, at) };
  });
}

async function grpcInfer(c: Client, req: Record<string, unknown>): Promise<Output[]> {
  const res = await unary(c, 'ModelInfer', req);
  return (res.outputs as Array<{ name: string; datatype: string; shape: string[] }>).map((o, i) => ({
    name: o.name,
    datatype: o.datatype,
    shape: o.shape.map(Number),
    bytes: Buffer.from(res.raw_output_contents[i]),
  }));
}

const byName = (outs: Output[]) => Object.fromEntries(outs.map((o) => [o.name, o]));

describe('gRPC and REST give the same answer for every datatype', function () {
  let store: TestStore;
  let server: RunningServer;
  let c: Client;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'every', model: everyType(), handler: 'echo.js' });
    await store.add({ name: 'typed', model: everyType(TYPED), handler: 'echo.js' });
    server = await startTestServer(store, ['every.mar', 'typed.mar']);
    c = client('triton', server.grpcInferenceTarget);
  });
  after(async () => {
    close(c);
    await server?.stop();
    await store?.remove();
  });

  it('raw_input_contents and the binary extension: all 13 datatypes, byte for byte', async () => {
    const inputs = ALL_TYPES.map((t) => ({ name: `in_${t}`, datatype: t, shape: [2, 2] }));
    const blobs = ALL_TYPES.map((t) => CASES[t].bytes);
    const header = { inputs: inputs.map((i, k) => ({ ...i, parameters: { binary_data_size: blobs[k].byteLength } })), parameters: { binary_data_output: true } };
    const { body, headerLength } = binaryBody(header, ...blobs);
    const viaRest = byName(await rest(server, 'every', body, headerLength));
    const viaGrpc = byName(await grpcInfer(c, { model_name: 'every', inputs, raw_input_contents: blobs }));
    for (const t of ALL_TYPES) {
      const r = viaRest[`out_${t}`];
      const g = viaGrpc[`out_${t}`];
      expect(g.datatype, t).to.equal(t);
      expect(g.datatype, t).to.equal(r.datatype);
      expect(g.shape, t).to.deep.equal([2, 2]);
      expect(g.shape, t).to.deep.equal(r.shape);
      expect(g.bytes.equals(r.bytes), `${t}: gRPC ${g.bytes.toString('hex')} REST ${r.bytes.toString('hex')}`).to.equal(true);
      expect(g.bytes.equals(CASES[t].bytes), t).to.equal(true); // an identity model gives back what it got
    }
  });

  it('typed contents and v2 JSON: every datatype that has a contents field, byte for byte', async () => {
    const restBody = {
      inputs: TYPED.map((t) => ({ name: `in_${t}`, datatype: t, shape: [2, 2], data: CASES[t].json })),
      parameters: { binary_data_output: true },
    };
    const viaRest = byName(await rest(server, 'typed', Buffer.from(JSON.stringify(restBody))));
    const grpcInputs = TYPED.map((t) => ({ name: `in_${t}`, datatype: t, shape: [2, 2], contents: { [CASES[t].field!]: CASES[t].typed } }));
    const viaGrpc = byName(await grpcInfer(c, { model_name: 'typed', inputs: grpcInputs }));
    for (const t of TYPED) {
      const r = viaRest[`out_${t}`];
      const g = viaGrpc[`out_${t}`];
      expect([g.datatype, g.shape], t).to.deep.equal([r.datatype, r.shape]);
      expect(g.bytes.equals(r.bytes), `${t}: gRPC ${g.bytes.toString('hex')} REST ${r.bytes.toString('hex')}`).to.equal(true);
      expect(g.bytes.equals(CASES[t].bytes), t).to.equal(true);
    }
  });

  it('the same refusal, as INVALID_ARGUMENT and as a 400, for a value out of range', async () => {
    const restRes = await fetch(`${server.inferenceUrl}/v2/models/typed/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: TYPED.map((t) => ({ name: `in_${t}`, datatype: t, shape: [2, 2], data: t === 'INT8' ? [128, 0, 0, 0] : CASES[t].json })) }),
    });
    const restError = ((await restRes.json()) as { error: string }).error;
    expect(restRes.status).to.equal(400);
    const grpcInputs = TYPED.map((t) => ({ name: `in_${t}`, datatype: t, shape: [2, 2], contents: { [CASES[t].field!]: t === 'INT8' ? [128, 0, 0, 0] : CASES[t].typed } }));
    const err = await unary(c, 'ModelInfer', { model_name: 'typed', inputs: grpcInputs }).catch((e: { code: number; details: string }) => e);
    expect((err as { code: number }).code).to.equal(3); // INVALID_ARGUMENT
    expect((err as { details: string }).details).to.equal(restError);
    expect(restError).to.contain('input "in_INT8": element 0 = 128 is out of range');
  });
});
