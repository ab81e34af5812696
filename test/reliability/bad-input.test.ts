import { expect } from 'chai';
import AdmZip from 'adm-zip';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { colorsClassifier, colorsLabels, mlp } from '../../scripts/lib/onnx-models.ts';
import { solidImage } from '../../scripts/lib/images.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

/** A PNG header claiming width × height pixels (a decompression bomb needs no more to be refused). */
function pngClaiming(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const idat = zlib.deflateSync(Buffer.alloc(1024));
  return new Uint8Array(Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]));
}

const MANIFEST = (extra: Record<string, string> = {}) =>
  JSON.stringify({ createdOn: '24/11/2026 18:00:00', runtime: 'node', archiverVersion: '0.1.0', model: { modelName: 'evil', modelVersion: '1.0', handler: 'echo.js', ...extra } });

describe('bad input: each case gets its documented status and a JSON message, and the server keeps serving', function () {
  let store: TestStore;
  let server: RunningServer;
  let red: Buffer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'colors', model: colorsClassifier(), handler: 'image_classifier', extra: { 'index_to_name.json': JSON.stringify(colorsLabels()) } });
    await store.add({ name: 'mlp', model: mlp(), handler: 'tensor' });
    await store.add({ name: 'echo', handler: 'echo.js' });
    const evil: Record<string, (z: AdmZip) => void> = {
      // adm-zip cleans names on addFile, so the hostile names are set afterwards, as an attacker's tool would.
      'slip.mar': (z) => {
        z.addFile('placeholder', Buffer.from('x'));
        z.getEntry('placeholder')!.entryName = '../../escaped.txt';
      },
      'absolute.mar': (z) => {
        z.addFile('placeholder', Buffer.from('x'));
        z.getEntry('placeholder')!.entryName = '/etc/evil.txt';
      },
      'link.mar': (z) => {
        z.addFile('link', Buffer.from('/etc/passwd'));
        z.getEntry('link')!.attr = (0o120777 << 16) >>> 0;
      },
      'bomb.mar': (z) => z.addFile('zeros.bin', Buffer.alloc(300 * 1024 * 1024)),
      'outside.mar': (z) => z.addFile('MAR-INF/MANIFEST.json', Buffer.from(MANIFEST({ serializedFile: '../model.onnx' }))),
      'no-manifest.mar': (z) => z.addFile('model.onnx', Buffer.from('x')),
    };
    for (const [file, craft] of Object.entries(evil)) {
      const z = new AdmZip();
      if (file !== 'outside.mar' && file !== 'no-manifest.mar') z.addFile('MAR-INF/MANIFEST.json', Buffer.from(MANIFEST()));
      z.addFile('echo.js', await fs.readFile(path.join('test', 'fixtures', 'handlers', 'echo.js')));
      craft(z);
      await fs.writeFile(path.join(store.dir, file), z.toBuffer());
    }
    server = await startTestServer(store, ['colors.mar', 'mlp.mar', 'echo.mar'], { max_request_size: String(1024 * 1024) });
    red = await solidImage(250, 0, 0);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  const predict = (model: string, body: string | Uint8Array | undefined, headers: Record<string, string> = {}) =>
    fetch(`${server.inferenceUrl}/predictions/${model}`, { method: 'POST', body, headers });

  const cases: Array<[string, () => Promise<Response>, number, RegExp]> = [
    ['truncated multipart', () => predict('colors', '--XX\r\nContent-Disposition: form-data; name="data"; filename="a.png"\r\n\r\nabc', { 'content-type': 'multipart/form-data; boundary=XX' }), 400, /malformed|multipart|end/i],
    ['multipart without a boundary', () => predict('colors', 'abc', { 'content-type': 'multipart/form-data' }), 400, /boundary|malformed/i],
    ['invalid JSON', () => predict('mlp', '{"inputs": [', { 'content-type': 'application/json' }), 400, /invalid JSON/],
    ['empty JSON body', () => predict('mlp', '', { 'content-type': 'application/json' }), 400, /empty/],
    ['empty image body', () => predict('colors', new Uint8Array(0), { 'content-type': 'image/png' }), 400, /image/i],
    ['undecodable image', () => predict('colors', 'not an image', { 'content-type': 'image/png' }), 400, /decode/i],
    ['decompression bomb image', () => predict('colors', pngClaiming(50_000, 50_000), { 'content-type': 'image/png' }), 400, /pixel/i],
    ['oversize body', () => predict('colors', new Uint8Array(2 * 1024 * 1024), { 'content-type': 'application/octet-stream' }), 413, /max_request_size/],
    ['infinity in a tensor', () => predict('mlp', `{"inputs":{"input":[[${Array(15).fill(0).join(',')},1e999]]}}`, { 'content-type': 'application/json' }), 400, /Infinity/],
    ['wrong tensor shape', () => predict('mlp', '{"inputs":{"input":[[1,2,3]]}}', { 'content-type': 'application/json' }), 400, /input/],
    ['wrong tensor datatype', () => predict('mlp', `{"inputs":{"input":[[${Array(16).fill('"a"').join(',')}]]}}`, { 'content-type': 'application/json' }), 400, /string/],
    ['unknown input name', () => predict('mlp', '{"inputs":{"nope":[[1]]}}', { 'content-type': 'application/json' }), 400, /nope|input/],
    ['unknown model', () => predict('nope', 'x'), 404, /nope/],
    ['unknown version', () => fetch(`${server.inferenceUrl}/predictions/colors/3.0`, { method: 'POST', body: 'x' }), 404, /3\.0/],
    ['unknown route', () => fetch(`${server.inferenceUrl}/nothing`), 404, /not found/i],
    ['wrong method', () => fetch(`${server.inferenceUrl}/predictions/colors`, { method: 'DELETE' }), 405, /./],
    ['management: unsupported content type', () => fetch(`${server.managementUrl}/models`, { method: 'POST', body: 'url=x', headers: { 'content-type': 'text/plain' } }), 415, /content type/],
    ['management: invalid JSON body', () => fetch(`${server.managementUrl}/models`, { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } }), 400, /invalid JSON/],
    ['management: missing url', () => fetch(`${server.managementUrl}/models`, { method: 'POST' }), 400, /url/],
    ['management: batch_size not a number', () => fetch(`${server.managementUrl}/models?url=echo.mar&batch_size=big`, { method: 'POST' }), 400, /batch_size/],
    ['management: max_batch_delay negative', () => fetch(`${server.managementUrl}/models?url=echo.mar&max_batch_delay=-5`, { method: 'POST' }), 400, /max_batch_delay/],
    ['management: initial_workers not a number', () => fetch(`${server.managementUrl}/models?url=echo.mar&initial_workers=one`, { method: 'POST' }), 400, /initial_workers/],
    ['management: synchronous not a boolean', () => fetch(`${server.managementUrl}/models?url=echo.mar&synchronous=perhaps`, { method: 'POST' }), 400, /synchronous/],
    ['management: response_timeout not a number', () => fetch(`${server.managementUrl}/models?url=echo.mar&response_timeout=soon`, { method: 'POST' }), 400, /response_timeout/],
    ['management: limit not a number', () => fetch(`${server.managementUrl}/models?limit=ten`), 400, /limit/],
    ['management: next_page_token negative', () => fetch(`${server.managementUrl}/models?next_page_token=-1`), 400, /next_page_token/],
    ['management: min_worker negative', () => fetch(`${server.managementUrl}/models/echo?min_worker=-2`, { method: 'PUT' }), 400, /min_worker/],
    ['management: max_worker below min_worker', () => fetch(`${server.managementUrl}/models/echo?min_worker=3&max_worker=1`, { method: 'PUT' }), 400, /max_worker/],
    ['management: url outside the model store', () => fetch(`${server.managementUrl}/models?url=../../etc/passwd`, { method: 'POST' }), 400, /model store/],
    ['management: url not allowed', () => fetch(`${server.managementUrl}/models?url=http://127.0.0.1:1/x.mar`, { method: 'POST' }), 400, /allowed_urls/],
    ['archive: zip slip', () => fetch(`${server.managementUrl}/models?url=slip.mar`, { method: 'POST' }), 400, /slip\.mar.*escaped|escape/],
    ['archive: absolute path', () => fetch(`${server.managementUrl}/models?url=absolute.mar`, { method: 'POST' }), 400, /absolute/],
    ['archive: symbolic link', () => fetch(`${server.managementUrl}/models?url=link.mar`, { method: 'POST' }), 400, /link/],
    ['archive: zip bomb', () => fetch(`${server.managementUrl}/models?url=bomb.mar`, { method: 'POST' }), 400, /ratio|size|limit/i],
    ['archive: manifest path outside', () => fetch(`${server.managementUrl}/models?url=outside.mar`, { method: 'POST' }), 400, /serializedFile/],
    ['archive: no manifest', () => fetch(`${server.managementUrl}/models?url=no-manifest.mar`, { method: 'POST' }), 400, /MANIFEST/],
  ];

  for (const [name, send, status, message] of cases) {
    it(`${name}: ${status}`, async () => {
      const res = await send();
      const text = await res.text();
      expect(res.status, text).to.equal(status);
      const body = JSON.parse(text) as { code?: number; message?: string };
      expect(body.code).to.equal(status);
      expect(body.message).to.match(message);
      expect(text).not.to.match(/\n\s+at /);
      const form = new FormData();
      form.append('data', new Blob([new Uint8Array(red)]), 'red.png');
      const ok = await fetch(`${server.inferenceUrl}/predictions/colors`, { method: 'POST', body: form });
      expect(ok.status).to.equal(200);
    });
  }

  it('wrote nothing outside the model store and registered none of the bad archives', async () => {
    await fs.access(path.join(store.dir, '..', '..', 'escaped.txt')).then(() => expect.fail('escaped.txt was written'), () => {});
    const models = (await (await fetch(`${server.managementUrl}/models`)).json()) as { models: { modelName: string }[] };
    expect(models.models.map((m) => m.modelName)).to.deep.equal(['colors', 'echo', 'mlp']);
  });
});
