import { expect } from 'chai';
import { Writable } from 'node:stream';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import { createLogger } from '../../src/log.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { testConfig, TestStore } from '../helpers/server.ts';

async function call(server: RunningServer, method: string, p: string, body?: unknown) {
  const res = await fetch(`${server.inferenceUrl}${p}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as unknown };
}

describe("Triton's logging extension, and trace and shared memory answered as not supported", function () {
  let store: TestStore;
  let server: RunningServer;
  const lines: string[] = [];

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'add', model: addOne(), handler: 'tensor' });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const log = createLogger('info', sink);
    server = await startServer(testConfig(store, ['add.mar']), { log });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('answers the settings in force and changes the server log level at run time', async () => {
    expect(await call(server, 'GET', '/v2/logging')).to.deep.equal({
      status: 200,
      json: { log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'default' },
    });
    const verbose = await call(server, 'POST', '/v2/logging', { log_verbose_level: 1 });
    expect(verbose.json).to.deep.include({ log_info: true, log_verbose_level: 1 });
    lines.length = 0;
    await call(server, 'POST', '/v2/models/add/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
    const quiet = await call(server, 'POST', '/v2/logging', { log_verbose_level: 0, log_info: false, log_warning: false, log_format: 'ISO8601' });
    expect(quiet.json).to.deep.equal({ log_file: '', log_info: false, log_warning: false, log_error: true, log_verbose_level: 0, log_format: 'ISO8601' });
    const before = lines.length;
    await call(server, 'POST', '/v2/models/add/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
    expect(lines.length).to.equal(before); // info lines (the access log) are off now
    expect((await call(server, 'POST', '/v2/logging', { log_info: true })).json).to.deep.include({ log_info: true, log_error: true });
  });

  it('refuses what it cannot set, with the protocol error shape', async () => {
    expect(await call(server, 'POST', '/v2/logging', { log_file: '/tmp/x.log' })).to.deep.equal({
      status: 501,
      json: { error: 'log file location can not be updated through network protocol' },
    });
    expect(await call(server, 'POST', '/v2/logging', { log_info: 'yes' })).to.deep.equal({ status: 400, json: { error: '"log_info" must be true or false, got "yes"' } });
    expect(await call(server, 'POST', '/v2/logging', { log_format: 'xml' })).to.deep.equal({ status: 400, json: { error: 'invalid argument for --log_format, got: xml' } });
    expect(await call(server, 'POST', '/v2/logging', { log_level: 3 })).to.deep.equal({ status: 400, json: { error: 'unknown logging setting "log_level"' } });
  });

  it('answers trace and shared memory requests with {"error"} and the status Triton gives when they are off', async () => {
    for (const p of ['/v2/trace/setting', '/v2/models/add/trace/setting']) {
      expect(await call(server, 'GET', p)).to.deep.equal({ status: 503, json: { error: 'the server does not support tracing' } });
    }
    expect(await call(server, 'POST', '/v2/trace/setting', { trace_level: ['TIMESTAMPS'] })).to.deep.include({ status: 503 });
    const shm = await call(server, 'POST', '/v2/systemsharedmemory/region/r0/register', { key: '/r0', offset: 0, byte_size: 64 });
    expect(shm).to.deep.equal({ status: 501, json: { error: 'system shared memory is not supported: send tensors in the request body (JSON or binary tensor data)' } });
    expect((await call(server, 'GET', '/v2/cudasharedmemory/status')).status).to.equal(501);
  });
});
