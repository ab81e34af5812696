import { expect } from 'chai';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { colorsClassifier, colorsLabels } from '../../scripts/lib/onnx-models.ts';
import { solidImage } from '../../scripts/lib/images.ts';

interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<Res> {
  const res = await fetch(base + path, {
    method,
    ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('management API (TorchServe endpoints, parameters, statuses and bodies)', function () {
  let store: TestStore;
  let server: RunningServer;
  const mgmt = (method: string, path: string, body?: unknown) => call(server.managementUrl, method, path, body);
  const infer = (model: string) => call(server.inferenceUrl, 'POST', `/predictions/${model}`, {});

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'echo', handler: 'echo.js' });
    await store.add({ name: 'versioned', version: '1.0', handler: 'version.js', file: 'versioned-1.mar' });
    await store.add({ name: 'versioned', version: '2.0', handler: 'version.js', file: 'versioned-2.mar' });
    await store.add({ name: 'broken', handler: 'init-fails.js' });
    await store.add({ name: 'configured', handler: 'echo.js', config: 'batchSize: 4\nmaxBatchDelay: 20\nresponseTimeout: 30\nminWorkers: 1\nmaxWorkers: 2\ncustom_key: hello\n' });
    for (const n of ['a', 'b', 'c']) await store.add({ name: `page-${n}`, handler: 'echo.js' });
    const colors = { model: colorsClassifier(), handler: 'image_classifier', extra: { 'index_to_name.json': JSON.stringify(colorsLabels()) } };
    await store.add({ name: 'arena', ...colors, config: 'cpuMemArena: true\n' });
    await store.add({ name: 'arena-bad', ...colors, config: 'cpuMemArena: yes\n' });
    server = await startTestServer(store, []);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('registers synchronously with TorchServe\'s message, and the model serves', async () => {
    const res = await mgmt('POST', '/models?url=echo.mar&initial_workers=1');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ status: 'Model "echo" Version: 1.0 registered with 1 initial workers' });
    expect((await infer('echo')).status).to.equal(200);
  });

  it('says how to add workers when registered with none, and 503s predictions until then', async () => {
    const res = await mgmt('POST', '/models', { url: 'page-a.mar', initial_workers: 0 });
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('Model "page-a" Version: 1.0 registered with 0 initial workers. Use scale workers API to add workers for the model.');
    const pred = await infer('page-a');
    expect(pred.status).to.equal(503);
    expect(pred.headers.get('retry-after')).to.equal('1');
    expect(pred.body.message).to.contain('scale workers');
  });

  it('registers asynchronously with 202, then READY in describe', async () => {
    const res = await mgmt('POST', '/models?url=page-b.mar&synchronous=false&initial_workers=1');
    expect(res.status).to.equal(202);
    expect(res.body).to.deep.equal({ status: 'Processing worker updates...' });
    for (let i = 0; i < 200; i++) {
      const d = await mgmt('GET', '/models/page-b');
      if (d.body[0].state === 'READY') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect((await mgmt('GET', '/models/page-b')).body[0].state).to.equal('READY');
  });

  it('refuses bad registrations with the right status and a message', async () => {
    const noUrl = await mgmt('POST', '/models');
    expect(noUrl.status).to.equal(400);
    expect(noUrl.body).to.deep.include({ code: 400, message: 'Parameter url is required.' });
    const missing = await mgmt('POST', '/models?url=nothing.mar');
    expect(missing.status).to.equal(404);
    expect(missing.body.message).to.contain('nothing.mar');
    const dup = await mgmt('POST', '/models?url=echo.mar');
    expect(dup.status).to.equal(409);
    expect(dup.body.message).to.contain('already exists');
    for (const p of ['batch_size=abc', 'max_batch_delay=1.5', 'initial_workers=-1', 'response_timeout=x', 'synchronous=maybe']) {
      const bad = await mgmt('POST', `/models?url=page-c.mar&${p}`);
      expect(bad.status, p).to.equal(400);
      expect(bad.body.message, p).to.contain(p.split('=')[0]);
    }
    const escape = await mgmt('POST', '/models?url=../../etc/passwd');
    expect(escape.status).to.equal(400);
    const remote = await mgmt('POST', '/models?url=http://127.0.0.1:9/x.mar');
    expect(remote.status).to.equal(400);
    expect(remote.body.message).to.contain('allowed_urls');
  });

  it('fails a synchronous registration whose initialize throws, with the reason, and keeps nothing', async () => {
    const res = await mgmt('POST', '/models?url=broken.mar&initial_workers=1');
    expect(res.status).to.equal(500);
    expect(res.body.message).to.contain('weights are corrupt');
    expect((await mgmt('GET', '/models/broken')).status).to.equal(404);
  });

  it('ends an asynchronous registration whose initialize throws in FAILED with the reason, without looping', async () => {
    const res = await mgmt('POST', '/models?url=broken.mar&initial_workers=1&synchronous=false');
    expect(res.status).to.equal(202);
    let d: Res | undefined;
    for (let i = 0; i < 200; i++) {
      d = await mgmt('GET', '/models/broken');
      if (d.body[0].state !== 'LOADING') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(d!.body[0].state).to.equal('FAILED');
    expect(d!.body[0].failureReason).to.contain('weights are corrupt');
    expect(d!.body[0].workers).to.deep.equal([]);
    expect((await infer('broken')).status).to.equal(503);
    expect((await mgmt('DELETE', '/models/broken')).status).to.equal(200);
  });

  it('takes settings from the archive YAML, overridden by API parameters', async () => {
    await mgmt('POST', '/models?url=configured.mar');
    const d = (await mgmt('GET', '/models/configured')).body[0];
    expect(d).to.include({ batchSize: 4, maxBatchDelay: 20, responseTimeout: 30, minWorkers: 1, maxWorkers: 2 });
    await mgmt('DELETE', '/models/configured');
    await mgmt('POST', '/models?url=configured.mar&batch_size=8&max_batch_delay=5&response_timeout=9');
    const d2 = (await mgmt('GET', '/models/configured')).body[0];
    expect(d2).to.include({ batchSize: 8, maxBatchDelay: 5, responseTimeout: 9 });
  });

  it('describes a model with TorchServe\'s fields, state and job queue status', async () => {
    const d = (await mgmt('GET', '/models/echo')).body;
    expect(d).to.have.length(1);
    expect(d[0]).to.include({ modelName: 'echo', modelVersion: '1.0', modelUrl: 'echo.mar', runtime: 'node', state: 'READY', loadedAtStartup: false });
    for (const k of ['minWorkers', 'maxWorkers', 'batchSize', 'maxBatchDelay', 'responseTimeout']) expect(d[0][k]).to.be.a('number');
    expect(d[0].workers).to.have.length(1);
    expect(d[0].workers[0]).to.have.keys(['id', 'startTime', 'status', 'memoryUsage', 'pid', 'gpu', 'gpuUsage']);
    expect(d[0].workers[0].status).to.equal('READY');
    expect(d[0].jobQueueStatus).to.deep.equal({ remainingCapacity: 100, pendingRequests: 0 });
    expect((await mgmt('GET', '/models/nope')).status).to.equal(404);
    expect((await mgmt('GET', '/models/echo/9.9')).status).to.equal(404);
  });

  it('lists default versions sorted, paginated as TorchServe with limit capped at 100', async () => {
    const all = (await mgmt('GET', '/models')).body;
    const names = all.models.map((m: { modelName: string }) => m.modelName);
    expect(names).to.deep.equal([...names].sort());
    const first = (await mgmt('GET', '/models?limit=2')).body;
    expect(first.models).to.have.length(2);
    expect(first.nextPageToken).to.equal('2');
    const next = (await mgmt('GET', `/models?limit=2&next_page_token=${first.nextPageToken}`)).body;
    expect(next.models[0].modelName).to.equal(names[2]);
    expect((await mgmt('GET', '/models?limit=500')).body.models).to.have.length(names.length);
    expect((await mgmt('GET', '/models?limit=x')).status).to.equal(400);
  });

  it('scales workers up and down, synchronously and not, refusing bad counts', async () => {
    const up = await mgmt('PUT', '/models/echo?min_worker=2&max_worker=3&synchronous=true');
    expect(up.status).to.equal(200);
    expect(up.body).to.deep.equal({ status: 'Workers scaled to 2 for model: echo' });
    let d = (await mgmt('GET', '/models/echo')).body[0];
    expect(d.workers).to.have.length(2);
    expect(d).to.include({ minWorkers: 2, maxWorkers: 3 });
    const down = await mgmt('PUT', '/models/echo/1.0?min_worker=1');
    expect(down.status).to.equal(202);
    expect(down.body).to.deep.equal({ status: 'Processing worker updates...' });
    for (let i = 0; i < 100 && d.workers.length !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      d = (await mgmt('GET', '/models/echo')).body[0];
    }
    expect(d.workers).to.have.length(1);
    const v = await mgmt('PUT', '/models/echo/1.0?min_worker=1&synchronous=true');
    expect(v.body.status).to.equal('Workers scaled to 1 for model: echo, version: 1.0');
    expect((await mgmt('PUT', '/models/echo?min_worker=3&max_worker=2')).status).to.equal(400);
    expect((await mgmt('PUT', '/models/echo?min_worker=-1')).status).to.equal(400);
    expect((await mgmt('PUT', '/models/echo?min_worker=two')).body.message).to.contain('min_worker');
    expect((await mgmt('PUT', '/models/nope?min_worker=1')).status).to.equal(404);
  });

  it('keeps versions side by side; predictions go to the default; set-default switches it', async () => {
    expect((await mgmt('POST', '/models?url=versioned-1.mar&initial_workers=1')).status).to.equal(200);
    expect((await mgmt('POST', '/models?url=versioned-2.mar&initial_workers=1')).status).to.equal(200);
    expect((await infer('versioned')).body.version).to.equal('1.0');
    expect((await call(server.inferenceUrl, 'POST', '/predictions/versioned/2.0', {})).body.version).to.equal('2.0');
    const all = (await mgmt('GET', '/models/versioned/all')).body;
    expect(all.map((d: { modelVersion: string }) => d.modelVersion).sort()).to.deep.equal(['1.0', '2.0']);
    const set = await mgmt('PUT', '/models/versioned/2.0/set-default');
    expect(set.body).to.deep.equal({ status: 'Default version successfully updated for model "versioned" to "2.0"' });
    expect((await infer('versioned')).body.version).to.equal('2.0');
    expect((await mgmt('PUT', '/models/versioned/7.0/set-default')).status).to.equal(404);
    const delDefault = await mgmt('DELETE', '/models/versioned/2.0');
    expect(delDefault.status).to.equal(403);
    const del = await mgmt('DELETE', '/models/versioned/1.0');
    expect(del.body).to.deep.equal({ status: 'Model "versioned" unregistered' });
    expect((await infer('versioned')).body.version).to.equal('2.0');
    expect((await mgmt('DELETE', '/models/versioned')).status).to.equal(200);
    expect((await mgmt('GET', '/models/versioned')).status).to.equal(404);
  });
});

describe('management API with enable_model_api=false', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'echo', handler: 'echo.js' });
    server = await startTestServer(store, ['echo.mar'], { enable_model_api: 'false' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('refuses register and unregister with 405, and still lists, describes and scales', async () => {
    const reg = await call(server.managementUrl, 'POST', '/models?url=echo.mar');
    expect(reg.status).to.equal(405);
    expect(reg.body.message).to.contain('enable_model_api');
    expect((await call(server.managementUrl, 'DELETE', '/models/echo')).status).to.equal(405);
    expect((await call(server.managementUrl, 'GET', '/models')).body.models).to.have.length(1);
    expect((await call(server.managementUrl, 'PUT', '/models/echo?min_worker=1&synchronous=true')).status).to.equal(200);
  });
});

describe('settings precedence: config.properties < models={…} < archive YAML < API', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'plain', handler: 'echo.js' });
    await store.add({ name: 'yamled', handler: 'echo.js', config: 'batchSize: 6\n' });
    server = await startTestServer(store, ['plain.mar', 'yamled.mar'], {
      batch_size: '2',
      max_batch_delay: '40',
      models: JSON.stringify({ plain: { '1.0': { batchSize: 5, maxBatchDelay: 9 } }, yamled: { '1.0': { batchSize: 4, maxBatchDelay: 8 } } }),
    });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('applies each layer over the one below', async () => {
    const d = async (m: string) => ((await (await fetch(`${server.managementUrl}/models/${m}`)).json()) as Array<Record<string, unknown>>)[0];
    expect(await d('plain')).to.include({ batchSize: 5, maxBatchDelay: 9 });
    expect(await d('yamled')).to.include({ batchSize: 6, maxBatchDelay: 8 });
    await fetch(`${server.managementUrl}/models/yamled`, { method: 'DELETE' });
    await fetch(`${server.managementUrl}/models?url=yamled.mar&batch_size=7`, { method: 'POST' });
    expect(await d('yamled')).to.include({ batchSize: 7, maxBatchDelay: 8 });
  });
});
