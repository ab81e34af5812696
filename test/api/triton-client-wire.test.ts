/**
 * Requests built byte for byte as Triton's Python HTTP client builds them (tritonclient/http/_utils.py
 * `_get_inference_request`, `_client.py` `infer`, `load_model`, `get_model_config`, `get_inference_statistics`,
 * `update_log_settings`; Python's json.dumps writes ", " and ": "), and answers read as it reads them
 * (`_infer_result.py`: decompress by Content-Encoding, then split at Inference-Header-Content-Length). The client
 * itself is not installable here (no PyPI), so its wire format is reproduced.
 */
import { expect } from 'chai';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { identity } from '../helpers/v2-models.ts';

/** Python's json.dumps with its default separators. */
function pyDumps(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pyDumps).join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pyDumps(x)}`).join(', ')}}`;
  return JSON.stringify(v);
}

function send(server: RunningServer, method: string, p: string, body: Buffer | undefined, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const url = new URL(server.inferenceUrl + '/' + p);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method, headers: { ...(body && { 'content-length': String(body.byteLength) }), ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** As InferResult.from_response_body: decompress, then JSON header and binary tail. */
function readResult(r: { headers: http.IncomingHttpHeaders; body: Buffer }): { json: any; tail: Buffer } { // eslint-disable-line @typescript-eslint/no-explicit-any
  let body = r.body;
  if (r.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
  else if (r.headers['content-encoding'] === 'deflate') body = zlib.inflateSync(body);
  const length = r.headers['inference-header-content-length'];
  const n = length === undefined ? body.byteLength : Number(length);
  return { json: JSON.parse(body.subarray(0, n).toString()), tail: body.subarray(n) };
}

/** BYTES elements as deserialize_bytes_tensor reads them. */
function bytesElements(b: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < b.byteLength; ) {
    const n = b.readUInt32LE(at);
    out.push(b.subarray(at + 4, at + 4 + n).toString());
    at += 4 + n;
  }
  return out;
}

describe("Triton's Python HTTP client, on the wire", function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      scores: { config: 'max_batch_size: 8\ndynamic_batching { }', versions: { '1': identity('FP32', ['N', 4]) } },
    });
    server = await startTestServer(store, [], { model_repository: repo, model_control_mode: 'explicit', load_model: 'scores' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('infer with binary inputs, class_count, gzip request and gzip response, and a timeout', async () => {
    const data = Buffer.from(new Float32Array([0.1, 0.6, 0.3, 0]).buffer);
    const request = pyDumps({
      inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }],
      outputs: [{ name: 'y', parameters: { classification: 2, binary_data: true } }],
      parameters: { timeout: 10_000_000 },
    });
    const body = zlib.gzipSync(Buffer.concat([Buffer.from(request), data]));
    const r = await send(server, 'POST', 'v2/models/scores/infer', body, {
      'Content-Encoding': 'gzip',
      'Accept-Encoding': 'gzip',
      'Inference-Header-Content-Length': String(request.length),
    });
    expect(r.status).to.equal(200);
    const { json, tail } = readResult(r);
    expect(json.outputs).to.deep.equal([{ name: 'y', datatype: 'BYTES', shape: [1, 2], parameters: { binary_data_size: tail.byteLength } }]);
    expect(bytesElements(tail)).to.deep.equal(['0.600000:1', '0.300000:2']);
  });

  it('infer without outputs: binary_data_output for every output, deflate (zlib) both ways', async () => {
    const data = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
    const request = pyDumps({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }], parameters: { binary_data_output: true } });
    const r = await send(server, 'POST', 'v2/models/scores/infer', zlib.deflateSync(Buffer.concat([Buffer.from(request), data])), {
      'Content-Encoding': 'deflate',
      'Accept-Encoding': 'deflate',
      'Inference-Header-Content-Length': String(request.length),
    });
    const { json, tail } = readResult(r);
    expect(json.outputs[0]).to.deep.equal({ name: 'y', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } });
    expect([...new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + 16))]).to.deep.equal([1, 2, 3, 4]);
  });

  it('get_model_config, get_inference_statistics, load_model(config=...), update_log_settings', async () => {
    const cfg = await send(server, 'GET', 'v2/models/scores/config', undefined);
    expect(JSON.parse(cfg.body.toString())).to.include({ name: 'scores', max_batch_size: 8 });
    const stats = JSON.parse((await send(server, 'GET', 'v2/models/scores/stats', undefined)).body.toString());
    expect(stats.model_stats[0]).to.include({ name: 'scores', version: '1', inference_count: 2 });
    const all = JSON.parse((await send(server, 'GET', 'v2/models/stats', undefined)).body.toString());
    expect(all.model_stats).to.have.length(1);
    const config = pyDumps({ max_batch_size: 2, input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [4] }] });
    const load = await send(server, 'POST', 'v2/repository/models/scores/load', Buffer.from(pyDumps({ parameters: { config } })));
    expect(load.status).to.equal(200);
    expect(JSON.parse((await send(server, 'GET', 'v2/models/scores/config', undefined)).body.toString())).to.include({ max_batch_size: 2 });
    const logs = await send(server, 'POST', 'v2/logging', Buffer.from(pyDumps({ log_verbose_level: 0, log_info: true })));
    expect(JSON.parse(logs.body.toString())).to.include({ log_info: true, log_verbose_level: 0 });
    // The client raises InferenceServerException with the body's "error" for any other status.
    const missing = await send(server, 'GET', 'v2/models/nope/config', undefined);
    expect([missing.status, missing.headers['content-type'], JSON.parse(missing.body.toString())]).to.deep.equal([404, 'application/json', { error: 'Model not found: nope' }]);
  });
});
