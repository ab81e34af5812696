import { expect } from 'chai';
import http from 'node:http';
import zlib from 'node:zlib';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const ROWS = 64; // an answer well over 1 KiB, so it is compressed when asked
/** The answer without its id (each request gets its own). */
const answer = (b: Buffer) => {
  const { id, ...rest } = JSON.parse(b.toString()) as { id: string };
  expect(id).to.be.a('string');
  return rest;
};

const request = { inputs: [{ name: 'x', shape: [ROWS, 4], datatype: 'FP32', data: Array.from({ length: ROWS * 4 }, (_, i) => i) }] };

/** A raw HTTP exchange (no client-side decompression), for checking the bytes on the wire. */
function raw(server: RunningServer, p: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const url = new URL(server.inferenceUrl + p);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-length': String(body.byteLength), ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Open Inference Protocol v2: compressed requests and responses (Content-Encoding, Accept-Encoding)', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'add', model: addOne(), handler: 'tensor' });
    server = await startTestServer(store, ['add.mar'], { max_request_size: '100000' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('inflates gzip and deflate request bodies, JSON and binary alike', async () => {
    const json = Buffer.from(JSON.stringify(request));
    const plain = await raw(server, '/v2/models/add/infer', json, { 'content-type': 'application/json' });
    expect(plain.status).to.equal(200);
    for (const [encoding, pack] of [['gzip', zlib.gzipSync], ['deflate', zlib.deflateSync]] as const) {
      const r = await raw(server, '/v2/models/add/infer', pack(json), { 'content-type': 'application/json', 'content-encoding': encoding });
      expect(r.status, encoding).to.equal(200);
      expect(answer(r.body), encoding).to.deep.equal(answer(plain.body));
    }
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }));
    const binary = Buffer.concat([header, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)]);
    const b = await raw(server, '/v2/models/add/infer', zlib.gzipSync(binary), {
      'content-type': 'application/octet-stream',
      'content-encoding': 'gzip',
      'inference-header-content-length': String(header.byteLength),
    });
    expect(b.status).to.equal(200);
    expect(JSON.parse(b.body.toString()).outputs[0].data).to.deep.equal([2, 3, 4, 5]);
  });

  it('compresses the answer when Accept-Encoding asks for gzip or deflate', async () => {
    const json = Buffer.from(JSON.stringify(request));
    const plain = await raw(server, '/v2/models/add/infer', json, { 'content-type': 'application/json' });
    expect(plain.headers['content-encoding']).to.equal(undefined);
    const gz = await raw(server, '/v2/models/add/infer', json, { 'content-type': 'application/json', 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).to.equal('gzip');
    expect(answer(zlib.gunzipSync(gz.body))).to.deep.equal(answer(plain.body));
    const df = await raw(server, '/v2/models/add/infer', json, { 'content-type': 'application/json', 'accept-encoding': 'deflate' });
    expect(df.headers['content-encoding']).to.equal('deflate');
    expect(answer(zlib.inflateSync(df.body))).to.deep.equal(answer(plain.body));
    const br = await raw(server, '/v2/models/add/infer', json, { 'content-type': 'application/json', 'accept-encoding': 'br' });
    expect(br.headers['content-encoding']).to.equal(undefined);
  });

  it('refuses unknown encodings (415), broken data (400) and bodies past max_request_size once inflated (413)', async () => {
    const json = Buffer.from(JSON.stringify(request));
    const br = await raw(server, '/v2/models/add/infer', json, { 'content-type': 'application/json', 'content-encoding': 'br' });
    expect(br.status).to.equal(415);
    expect(JSON.parse(br.body.toString())).to.deep.equal({ error: 'Content-Encoding "br" is not supported: send gzip, deflate or identity' });
    const broken = await raw(server, '/v2/models/add/infer', Buffer.from('not gzip at all'), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(broken.status).to.equal(400);
    expect(JSON.parse(broken.body.toString()).error).to.match(/^the request body is not valid gzip data: /);
    const bomb = zlib.gzipSync(Buffer.alloc(10_000_000, 0x20)); // 10 MB of spaces in ~10 KB
    const big = await raw(server, '/v2/models/add/infer', bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(big.status).to.equal(413);
    expect(JSON.parse(big.body.toString())).to.deep.equal({ error: 'request body is larger than max_request_size (100000 bytes) once inflated' });
  });
});
