import { expect } from 'chai';
import { mlp } from '../../scripts/lib/onnx-models.ts';
import { countBytesElements, encodeJson, unpackBytes } from '../../src/dataplane/codec.ts';
import { datatypeInfo } from '../../src/dataplane/datatypes.ts';
import type { RunningServer } from '../../src/server.ts';
import { binaryBody, identity } from '../helpers/v2-models.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const N = 1_600_000;

describe('reliability: BYTES floods on v2', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'mlp', handler: 'tensor', model: mlp() });
    await store.add({ name: 'strings', handler: 'echo.js', model: identity('BYTES', ['N']) }); // v2 runs the model directly
    server = await startTestServer(store, ['mlp.mar', 'strings.mar'], { max_request_size: String(8 * 1024 * 1024) });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  const infer = async (model: string, body: string | Buffer, headers: Record<string, string>) => {
    const res = await fetch(`${server.inferenceUrl}/v2/models/${model}/infer`, { method: 'POST', headers, body });
    return { status: res.status, text: await res.text() };
  };
  const binary = (header: unknown, data: Buffer) => {
    const { body, headerLength } = binaryBody(header, data);
    return { body, headers: { 'inference-header-content-length': String(headerLength) } };
  };

  it('refuses 1.6 million BYTES elements for an FP32 model by datatype, before looking at the data', async () => {
    // The framing is broken too (the first element claims more bytes than the body has): the datatype check
    // answers first, so the data was never decoded.
    const data = Buffer.alloc(N * 4);
    data.writeUInt32LE(0xffffff, 0);
    const { body, headers } = binary({ inputs: [{ name: 'input', datatype: 'BYTES', shape: [N], parameters: { binary_data_size: data.length } }] }, data);
    const res = await infer('mlp', body, headers);
    expect(res.status).to.equal(400);
    expect(JSON.parse(res.text).error).to.equal('input "input": model "mlp" expects datatype FP32, got BYTES');
    const json = JSON.stringify({ inputs: [{ name: 'input', datatype: 'BYTES', shape: [N], data: Array(N).fill('') }] });
    const res2 = await infer('mlp', json, { 'content-type': 'application/json' });
    expect(res2.status).to.equal(400);
    expect(JSON.parse(res2.text).error).to.contain('expects datatype FP32, got BYTES');
  });

  it('refuses a shape the model cannot take before decoding data that would not match it anyway', async () => {
    const json = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [N], data: ['not a number'] }] });
    const res = await infer('mlp', json, { 'content-type': 'application/json' });
    expect(res.status).to.equal(400);
    expect(JSON.parse(res.text).error).to.equal('input "input": model "mlp" expects shape [-1,16], got [1600000]');
  });

  it('runs 100,000 empty BYTES elements through a BYTES model and answers every one', async () => {
    const n = 100_000;
    const { body, headers } = binary({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [n], parameters: { binary_data_size: n * 4 } }] }, Buffer.alloc(n * 4));
    const res = await infer('strings', body, headers);
    expect(res.status, res.text.slice(0, 200)).to.equal(200);
    const out = JSON.parse(res.text).outputs[0];
    expect(out.shape).to.deep.equal([n]);
    expect(out.data).to.have.length(n);
    expect(out.data.every((s: string) => s === '')).to.equal(true);
  });

  it('encodes JSON strings into one buffer and counts binary elements without unpacking them', () => {
    const dt = datatypeInfo('BYTES')!;
    const values = ['', 'a', 'é', '日本', '🙂', 'x'.repeat(1000)];
    const wire = encodeJson(values, dt, 'x');
    expect(unpackBytes(wire, 'x').map((e) => Buffer.from(e).toString('utf8'))).to.deep.equal(values);
    expect(countBytesElements(wire, 'x')).to.equal(values.length);
    expect(countBytesElements(wire, 'x', 3)).to.equal(4);
    expect(() => countBytesElements(wire.subarray(0, wire.length - 1), 'x')).to.throw(/element 5 declares 1000 bytes/);
    expect(countBytesElements(new Uint8Array(N * 4), 'x')).to.equal(N);
  });
});
