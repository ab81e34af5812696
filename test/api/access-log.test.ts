import { expect } from 'chai';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { TestStore } from '../helpers/server.ts';
import { startCapturedServer, type CapturedServer } from '../metrics/helpers.ts';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('logs: one access-log line per request, as structured JSON', function () {
  let store: TestStore;
  let server: RunningServer;
  let captured: CapturedServer;
  const access = () => captured.lines().filter((l) => l.component === 'access');

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'echo', handler: 'echo.js', config: 'batchSize: 4\nmaxBatchDelay: 100\n' });
    captured = await startCapturedServer(store, ['echo.mar']);
    server = captured.server;
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('writes time, method, path, status, ms, model, version, request id and batch size for an inference', async () => {
    const before = access().length;
    const res = await fetch(`${server.inferenceUrl}/predictions/echo`, {
      method: 'POST',
      body: JSON.stringify({ hello: 1 }),
      headers: { 'content-type': 'application/json', 'x-request-id': 'client-id-42' },
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get('x-request-id')).to.equal('client-id-42');
    const lines = access().slice(before);
    expect(lines).to.have.length(1);
    const [line] = lines;
    expect(line).to.include({
      level: 30,
      name: 'modelserver',
      component: 'access',
      method: 'POST',
      path: '/predictions/echo',
      status: 200,
      model: 'echo',
      version: '1.0',
      batchSize: 1,
      requestId: 'client-id-42',
    });
    expect(line.time).to.match(ISO);
    expect(line.ms).to.be.a('number').and.to.be.greaterThan(0);
  });

  it('gives each request of a batch its own line with the batch size', async () => {
    const before = access().length;
    const ids = ['b-1', 'b-2', 'b-3', 'b-4', 'b-5', 'b-6'];
    const res = await Promise.all(
      ids.map((id) => fetch(`${server.inferenceUrl}/predictions/echo/1.0`, { method: 'PUT', body: id, headers: { 'x-request-id': id } })),
    );
    const batches = await Promise.all(res.map(async (r) => ((await r.json()) as { batch: number }).batch));
    const lines = access().slice(before);
    expect(lines.map((l) => l.requestId).sort()).to.deep.equal(ids);
    for (const l of lines) {
      expect(l).to.include({ method: 'PUT', path: '/predictions/echo/1.0', status: 200, model: 'echo', version: '1.0' });
      expect(l.batchSize).to.equal(batches[ids.indexOf(l.requestId as string)]);
    }
  });

  it('logs errors and the other apps too, one line each, and echoes the request id on error responses', async () => {
    const before = access().length;
    const calls: Array<[string, string, number]> = [
      [`${server.inferenceUrl}/ping`, 'GET', 200],
      [`${server.inferenceUrl}/predictions/nope`, 'POST', 404],
      [`${server.inferenceUrl}/no/such/route`, 'GET', 404],
      [`${server.managementUrl}/models`, 'GET', 200],
      [`${server.managementUrl}/models/nope`, 'GET', 404],
      [`${server.metricsUrl}/metrics`, 'GET', 200],
    ];
    for (const [i, [url, method, status]] of calls.entries()) {
      const res = await fetch(url, { method, headers: { 'x-request-id': `call-${i}` } });
      await res.arrayBuffer();
      expect(res.status, url).to.equal(status);
      expect(res.headers.get('x-request-id'), url).to.equal(`call-${i}`);
    }
    const lines = access().slice(before);
    expect(lines.map((l) => [l.method, l.path, l.status, l.requestId])).to.deep.equal(
      calls.map(([url, method, status], i) => [method, new URL(url).pathname, status, `call-${i}`]),
    );
    expect(lines[0]).to.not.have.property('model');
    expect(lines[1]).to.not.have.property('model'); // unknown model: nothing to name
  });

  it('names the model and version on a failed inference, without a batch size when it never ran', async () => {
    const before = access().length;
    const res = await fetch(`${server.inferenceUrl}/predictions/echo`, {
      method: 'POST',
      body: 'not a multipart body',
      headers: { 'content-type': 'multipart/form-data; boundary=nothing-here' },
    });
    expect(res.status).to.equal(400);
    const lines = access().slice(before);
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ status: 400, path: '/predictions/echo', model: 'echo', version: '1.0' });
    expect(lines[0]).to.not.have.property('batchSize');
    expect(lines[0].requestId).to.equal(res.headers.get('x-request-id'));
  });
});

describe("logs: the handler's logger in worker threads writes the server's JSON shape", function () {
  let store: TestStore;
  let server: RunningServer;
  const logLevel = process.env.MS_LOG_LEVEL;
  const written: string[] = [];
  const realWrite = process.stderr.write;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'cm', handler: 'custom-metrics.js', model: addOne() });
    process.env.MS_LOG_LEVEL = 'info';
    // Worker threads' stderr reaches the main thread's process.stderr: capture it there.
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    ({ server } = await startCapturedServer(store, ['cm.mar']));
  });
  after(async () => {
    process.stderr.write = realWrite;
    await server?.stop();
    await store?.remove();
    if (logLevel === undefined) delete process.env.MS_LOG_LEVEL;
    else process.env.MS_LOG_LEVEL = logLevel;
  });

  it('writes numeric level, ISO time, name, component, model, version and worker, honouring MS_LOG_LEVEL', async () => {
    const res = await fetch(`${server.inferenceUrl}/predictions/cm`, {
      method: 'POST',
      body: JSON.stringify({ x: [1, 2, 3, 4], source: 'a' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).to.equal(200);
    const handlerLines = () =>
      written
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.component === 'handler');
    // Worker stderr is forwarded asynchronously: wait for the line to arrive.
    for (let i = 0; i < 400 && handlerLines().length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const lines = handlerLines();
    expect(lines).to.have.length(1); // the debug line of preprocess is below MS_LOG_LEVEL=info
    expect(Object.keys(lines[0])).to.deep.equal(['level', 'time', 'name', 'component', 'model', 'version', 'worker', 'rows', 'msg']);
    expect(lines[0]).to.include({ level: 30, name: 'modelserver', model: 'cm', version: '1.0', worker: 0, rows: 4, msg: 'custom-metrics handler ready' });
    expect(lines[0].time).to.match(ISO);
  });
});
