import { expect } from 'chai';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import { solidImage } from '../../scripts/lib/images.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

async function post(server: RunningServer, model: string, body: string | Uint8Array | FormData, type: string | undefined, query = '') {
  const res = await fetch(`${server.inferenceUrl}/predictions/${model}${query}`, {
    method: 'POST',
    body,
    headers: type ? { 'content-type': type, 'x-test': 'hello' } : { 'x-test': 'hello' },
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> };
}

describe('handler contract, through the server and real worker threads', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'echo', handler: 'echo.js', config: 'batchSize: 4\n' });
    await store.add({ name: 'hooks', handler: 'hooks-object.js', model: addOne() });
    await store.add({ name: 'named', handler: 'named.js:Shouter' });
    await store.add({ name: 'fn', handler: 'handle-function.js' });
    await store.add({ name: 'throws', handler: 'throws.js', config: 'batchSize: 8\n' });
    await store.add({ name: 'badlen', handler: 'bad-batch-length.js' });
    await store.add({ name: 'responses', handler: 'responses.js' });
    await store.add({ name: 'shared', handler: 'shared-modules.js', model: addOne(), extra: { 'second.onnx': addOne() } });
    server = await startTestServer(store, ['echo.mar', 'hooks.mar', 'named.mar', 'fn.mar', 'throws.mar', 'badlen.mar', 'responses.mar', 'shared.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('hands JSON parsed, text as a string and bytes as bytes, with headers and query', async () => {
    const json = await post(server, 'echo', JSON.stringify({ a: [1, 2] }), 'application/json', '?q=1');
    expect(json.status).to.equal(200);
    expect(json.json).to.include({ contentType: 'application/json', header: 'hello', model: 'echo', version: '1.0' });
    expect(json.json.data).to.deep.equal({ a: [1, 2] });
    expect(json.json.query).to.deep.equal({ q: '1' });
    const text = await post(server, 'echo', 'some words', 'text/plain');
    expect(text.json.data).to.equal('some words');
    const bytes = await post(server, 'echo', new Uint8Array([0, 1, 2, 255]), 'application/octet-stream');
    expect(text.status).to.equal(200);
    expect(bytes.json.data).to.deep.equal({ bytes: 4, base64: Buffer.from([0, 1, 2, 255]).toString('base64') });
  });

  it('takes the multipart field or file named data, and exposes the other fields', async () => {
    const f = new FormData();
    f.append('data', new Blob([new Uint8Array([9, 8, 7])], { type: 'image/x-test' }), 'x.bin');
    f.append('note', 'a text field');
    const res = await post(server, 'echo', f, undefined);
    expect(res.status).to.equal(200);
    expect(res.json.data).to.deep.equal({ bytes: 3, base64: Buffer.from([9, 8, 7]).toString('base64') });
    expect(res.json.contentType).to.equal('image/x-test');
    expect(res.json.fields).to.have.members(['data', 'note']);
  });

  it('runs preprocess → session → postprocess for an object of hooks', async () => {
    const res = await post(server, 'hooks', JSON.stringify({ x: [1, 2, 3, 4] }), 'application/json');
    expect(res.status).to.equal(200);
    expect(res.json).to.deep.equal({ y: [2, 3, 4, 5] });
  });

  it('uses the export named in file.js:Export, and module-level handle functions', async () => {
    expect((await post(server, 'named', 'quiet please', 'text/plain')).text).to.equal('QUIET PLEASE');
    expect((await post(server, 'fn', 'four', 'text/plain')).json).to.deep.equal({ length: 4 });
  });

  it('sends a handler error with its own status and message', async () => {
    const res = await post(server, 'throws', '{}', 'application/json', '?mode=status');
    expect(res.status).to.equal(422);
    expect(res.json).to.deep.include({ code: 422, message: 'the input is not a fruit' });
    const plain = await post(server, 'throws', '{}', 'application/json', '?mode=plain-status');
    expect(plain.status).to.equal(418);
    expect(plain.json.message).to.equal('teapot says no');
  });

  it('answers a handler bug with a 500 that names the handler, without a stack trace', async () => {
    const res = await post(server, 'throws', '{}', 'application/json', '?mode=bug');
    expect(res.status).to.equal(500);
    expect(res.json.message).to.contain('throws.js').and.contain('cannot read properties of undefined');
    expect(res.text).not.to.match(/\n\s+at /);
  });

  it('fails one request of a batch without failing the others', async () => {
    const results = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) => post(server, 'throws', '{}', 'application/json', i === 3 ? `?fail=${i}` : `?id=${i}`)),
    );
    expect(results.map((r) => r.status)).to.deep.equal([200, 200, 400, 200, 200, 200]);
    expect(results[2].json.message).to.equal('request 3 is bad');
    expect(results[5].json).to.deep.equal({ ok: '6' });
  });

  it('gives a 500 that says so when the handler returns the wrong number of results', async () => {
    const res = await post(server, 'badlen', 'x', 'text/plain');
    expect(res.status).to.equal(500);
    expect(res.json.message).to.match(/returned 2 results for a batch of 1/);
  });

  it('sends bytes, text, and the status, content type and headers the handler set', async () => {
    const bytes = await fetch(`${server.inferenceUrl}/predictions/responses?kind=bytes`, { method: 'POST', body: 'x' });
    expect(bytes.headers.get('content-type')).to.equal('application/x-test');
    expect([...new Uint8Array(await bytes.arrayBuffer())]).to.deep.equal([1, 2, 3, 250]);
    const text = await post(server, 'responses', 'x', 'text/plain', '?kind=text');
    expect(text.text).to.equal('plain words');
    expect(text.headers.get('content-type')).to.match(/^text\/plain/);
    const custom = await post(server, 'responses', 'x', 'text/plain');
    expect(custom.status).to.equal(201);
    expect(custom.headers.get('x-handler')).to.equal('yes');
  });

  it('writes typed arrays as arrays and bigints as numbers (or strings past 2^53), and refuses a result JSON cannot write', async () => {
    const typed = await post(server, 'responses', 'x', 'text/plain', '?kind=typed');
    expect(typed.json).to.deep.equal({ logits: [0.5, -1.25], ids: [3, '1152921504606846976'], count: 7, plain: [1, 'two'] });
    const cyclic = await post(server, 'responses', 'x', 'text/plain', '?kind=cyclic');
    expect(cyclic.status).to.equal(500);
    expect(cyclic.json.message).to.contain('responses.js').and.contain('cannot be written as JSON').and.contain('circular');
  });

  it("lets an archive's handler import the server's sharp and onnxruntime-node, and open a second model", async () => {
    const png = await solidImage(1, 2, 3, { width: 20, height: 10 });
    const res = await post(server, 'shared', new Uint8Array(png), 'image/png');
    expect(res.status).to.equal(200);
    expect(res.json).to.deep.equal({ size: [20, 10], first: [21, 11, 1, 1], second: [21, 11, 1, 1], sameTensorClass: true });
  });

  it('refuses invalid JSON with a 400 that says so', async () => {
    const res = await post(server, 'echo', '{"a": ', 'application/json');
    expect(res.status).to.equal(400);
    expect(res.json.message).to.match(/invalid JSON/);
  });
});

describe('handler contract: a handler whose initialize throws', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'broken', handler: 'init-fails.js' });
    await store.add({ name: 'echo', handler: 'echo.js' });
    // TorchServe's leniency: serve what loaded (strict_readiness, the default, keeps /ping Unhealthy instead).
    server = await startTestServer(store, ['broken.mar', 'echo.mar'], { strict_readiness: 'false' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('is not registered, and the rest of the server serves', async () => {
    const res = await post(server, 'broken', 'x', 'text/plain');
    expect(res.status).to.equal(404);
    expect((await post(server, 'echo', 'x', 'text/plain')).status).to.equal(200);
    expect((await fetch(`${server.inferenceUrl}/ping`)).status).to.equal(200);
    expect(server.startupFailures.map((f) => f.model)).to.deep.equal(['broken']);
  });
});
