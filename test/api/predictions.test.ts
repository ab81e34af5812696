import { expect } from 'chai';
import { colorsClassifier, colorsLabels } from '../../scripts/lib/onnx-models.ts';
import { solidImage } from '../../scripts/lib/images.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

function form(file: Buffer, field = 'data', type = 'image/png'): FormData {
  const f = new FormData();
  f.append(field, new Blob([new Uint8Array(file)], { type }), 'image.png');
  return f;
}

describe('inference API: the colours classifier through worker threads', function () {
  let store: TestStore;
  let server: RunningServer;
  let red: Buffer, green: Buffer, blue: Buffer;

  before(async () => {
    store = await TestStore.create();
    await store.add({
      name: 'colors',
      model: colorsClassifier(),
      handler: 'image_classifier',
      extra: { 'index_to_name.json': JSON.stringify(colorsLabels()) },
      config: 'batchSize: 8\nmaxBatchDelay: 50\n',
    });
    server = await startTestServer(store, ['colors.mar'], { default_workers_per_model: '2' });
    [red, green, blue] = await Promise.all([
      solidImage(230, 10, 10),
      solidImage(10, 200, 20, { format: 'jpeg' }),
      solidImage(5, 5, 240),
    ]);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('answers /ping Healthy once the model is loaded', async () => {
    const res = await fetch(`${server.inferenceUrl}/ping`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ status: 'Healthy' });
    expect(res.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });

  it('classifies red, green and blue images sent as multipart, raw bytes and PUT', async () => {
    const r1 = await fetch(`${server.inferenceUrl}/predictions/colors`, { method: 'POST', body: form(red) });
    const r2 = await fetch(`${server.inferenceUrl}/predictions/colors`, {
      method: 'POST',
      body: new Uint8Array(green),
      headers: { 'content-type': 'image/jpeg' },
    });
    const r3 = await fetch(`${server.inferenceUrl}/predictions/colors/1.0`, { method: 'PUT', body: form(blue, 'data') });
    const bodies = await Promise.all([r1, r2, r3].map((r) => r.json() as Promise<Record<string, number>>));
    expect([r1.status, r2.status, r3.status]).to.deep.equal([200, 200, 200]);
    expect(bodies.map((b) => Object.keys(b)[0])).to.deep.equal(['red', 'green', 'blue']);
    for (const b of bodies) {
      const probs = Object.values(b);
      expect(probs[0]).to.be.greaterThan(0.9);
      expect(probs).to.deep.equal([...probs].sort((x, y) => y - x));
      expect(Object.keys(b)).to.have.members(['red', 'green', 'blue']);
    }
  });

  it('matches /predictions paths as the router would: a trailing slash, percent-encoding; 405 names the allowed methods', async () => {
    const post = (path: string) => fetch(`${server.inferenceUrl}${path}`, { method: 'POST', body: form(red) });
    for (const path of ['/predictions/colors/', '/predictions/col%6Frs/1%2E0', '/predictions/colors/1.0/']) {
      const res = await post(path);
      expect(res.status, path).to.equal(200);
      expect(Object.keys((await res.json()) as object)[0], path).to.equal('red');
    }
    const bad = await post('/predictions/%E0%A4%A');
    expect(bad.status).to.equal(404);
    expect(((await bad.json()) as { message: string }).message).to.include('%E0%A4%A');
    const get = await fetch(`${server.inferenceUrl}/predictions/colors`);
    expect(get.status).to.equal(405);
    expect(get.headers.get('allow')).to.include('POST');
    expect(await get.json()).to.include({ code: 405, type: 'MethodNotAllowedException' });
    expect(await post('/predictions/colors/1.0/extra')).to.have.property('status', 404);
  });

  it('answers a burst of mixed colours each with its own label, in batches', async () => {
    const images = [red, green, blue, blue, red, green, green, red, blue, red, green, blue];
    const expected = ['red', 'green', 'blue', 'blue', 'red', 'green', 'green', 'red', 'blue', 'red', 'green', 'blue'];
    const responses = await Promise.all(
      images.map((img) => fetch(`${server.inferenceUrl}/predictions/colors`, { method: 'POST', body: form(img) })),
    );
    const labels = await Promise.all(responses.map(async (r) => Object.keys((await r.json()) as object)[0]));
    expect(labels).to.deep.equal(expected);
  });

  it('gives 404 in TorchServe shape for an unknown model or version', async () => {
    const res = await fetch(`${server.inferenceUrl}/predictions/nope`, { method: 'POST', body: form(red) });
    expect(res.status).to.equal(404);
    expect(await res.json()).to.deep.equal({ code: 404, type: 'ModelNotFoundException', message: 'Model not found: nope' });
    const res2 = await fetch(`${server.inferenceUrl}/predictions/colors/9.9`, { method: 'POST', body: form(red) });
    expect(res2.status).to.equal(404);
    expect(((await res2.json()) as { message: string }).message).to.contain('9.9');
  });

  it('gives 400 for an undecodable image, and still serves afterwards', async () => {
    const res = await fetch(`${server.inferenceUrl}/predictions/colors`, {
      method: 'POST',
      body: new TextEncoder().encode('this is not an image'),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { code: number; message: string };
    expect(body.code).to.equal(400);
    expect(body.message).to.match(/decode|image/i);
    const ok = await fetch(`${server.inferenceUrl}/predictions/colors`, { method: 'POST', body: form(red) });
    expect(ok.status).to.equal(200);
  });

  it('gives 404 JSON for an unknown path and keeps the client request id', async () => {
    const res = await fetch(`${server.inferenceUrl}/nothing/here`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.status).to.equal(404);
    expect(res.headers.get('x-request-id')).to.equal('abc-123');
    expect(((await res.json()) as { code: number }).code).to.equal(404);
  });

  it('lists and describes the model on the management API', async () => {
    const list = (await (await fetch(`${server.managementUrl}/models`)).json()) as { models: unknown[] };
    expect(list).to.deep.equal({ models: [{ modelName: 'colors', modelUrl: 'colors.mar' }] });
    const desc = (await (await fetch(`${server.managementUrl}/models/colors`)).json()) as Array<Record<string, unknown>>;
    expect(desc).to.have.length(1);
    expect(desc[0]).to.include({ modelName: 'colors', modelVersion: '1.0', batchSize: 8, maxBatchDelay: 50, state: 'READY', minWorkers: 2 });
    expect(desc[0].workers).to.have.length(2);
  });
});
