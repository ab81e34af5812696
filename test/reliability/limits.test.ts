import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { mlp } from '../../scripts/lib/onnx-models.ts';
import { MAX_FORM_PARTS } from '../../src/api/decode.ts';
import type { RunningServer } from '../../src/server.ts';
import { describeModel, startTestServer, TestStore } from '../helpers/server.ts';

describe('reliability: bounded forms, worker caps and encoded management bodies', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'echo', handler: 'echo.js' });
    await store.add({ name: 'mlp', handler: 'tensor', model: mlp() });
    await store.add({ name: 'mlp2', handler: 'tensor', model: mlp() });
    server = await startTestServer(store, ['echo.mar'], { max_workers_per_model: '3', max_workers_total: '4' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  const mgmt = async (method: string, query: string, init: RequestInit = {}) => {
    const res = await fetch(`${server.managementUrl}${query}`, { method, ...init });
    return { status: res.status, body: (await res.json()) as { message?: string; status?: string } };
  };

  const form = (parts: number) => {
    const f = new FormData();
    f.append('data', 'hello');
    for (let i = 1; i < parts; i++) f.append(`f${i}`, new Blob(['x']), `f${i}.bin`);
    return f;
  };

  it(`answers 400 to a multipart body of 10,000 tiny parts, and takes a form of ${MAX_FORM_PARTS} files`, async () => {
    const res = await fetch(`${server.inferenceUrl}/predictions/echo`, { method: 'POST', body: form(10_000) });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { message: string }).message).to.equal(
      `the form has more than ${MAX_FORM_PARTS} files; at most ${MAX_FORM_PARTS} are allowed`,
    );
    const fields = new FormData();
    for (let i = 0; i < 10_000; i++) fields.append(`k${i}`, 'v');
    const res2 = await fetch(`${server.inferenceUrl}/predictions/echo`, { method: 'POST', body: fields });
    expect(res2.status).to.equal(400);
    expect(((await res2.json()) as { message: string }).message).to.contain('fields');
    const ok = await fetch(`${server.inferenceUrl}/predictions/echo`, { method: 'POST', body: form(MAX_FORM_PARTS) });
    expect(ok.status).to.equal(200);
    expect(((await ok.json()) as { data: string; fields: string[] }).fields).to.have.length(MAX_FORM_PARTS);
  });

  it('refuses more workers than max_workers_per_model, on registration and on scaling, with a 400 that names the setting', async () => {
    const reg = await mgmt('POST', '/models?url=mlp.mar&initial_workers=64');
    expect(reg.status).to.equal(400);
    expect(reg.body.message).to.contain('64 workers').and.contain('max_workers_per_model').and.contain('at most 3');
    expect((await mgmt('GET', '/models')).body).to.deep.equal({ models: [{ modelName: 'echo', modelUrl: 'echo.mar' }] });
    const scale = await mgmt('PUT', '/models/echo?min_worker=64&synchronous=true');
    expect(scale.status).to.equal(400);
    expect(scale.body.message).to.contain('max_workers_per_model');
    expect((await describeModel(server, 'echo')).workers).to.have.length(1);
  });

  it('refuses workers past max_workers_total across models, and allows them again once a model is gone', async () => {
    expect((await mgmt('POST', '/models?url=mlp.mar&initial_workers=2')).status).to.equal(200);
    const over = await mgmt('POST', '/models?url=mlp2.mar&initial_workers=2');
    expect(over.status).to.equal(400);
    expect(over.body.message).to.contain('max_workers_total').and.contain('at most 4');
    expect((await mgmt('PUT', '/models/mlp?min_worker=3&synchronous=true')).status).to.equal(200); // 1 + 3 = 4
    expect((await mgmt('PUT', '/models/echo?min_worker=2&synchronous=true')).status).to.equal(400);
    expect((await mgmt('DELETE', '/models/mlp')).status).to.equal(200);
    expect((await mgmt('POST', '/models?url=mlp2.mar&initial_workers=2')).status).to.equal(200);
    expect((await mgmt('DELETE', '/models/mlp2')).status).to.equal(200);
  });

  it('inflates a gzip-encoded management body instead of reading it as plain JSON, and refuses unknown codings with 415', async () => {
    const gz = await mgmt('PUT', '/models/echo?synchronous=true', {
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ min_worker: 2, max_worker: 2 })),
    });
    expect(gz.status).to.equal(200);
    expect((await describeModel(server, 'echo')).minWorkers).to.equal(2);
    const br = await mgmt('PUT', '/models/echo', {
      headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
      body: 'not brotli',
    });
    expect(br.status).to.equal(415);
    expect(br.body.message).to.contain('Content-Encoding "br"');
    const bomb = await mgmt('PUT', '/models/echo', {
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20)),
    });
    expect(bomb.status).to.equal(413);
    expect(bomb.body.message).to.contain('once inflated');
    expect((await mgmt('PUT', '/models/echo?min_worker=1&max_worker=1&synchronous=true')).status).to.equal(200);
  });
});
