import { expect } from 'chai';
import http from 'node:http';
import { mlp } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { rawExchange } from '../../scripts/lib/raw-http.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const LIMIT = 4096;

describe('reliability: answers to bodies that are not read to their end', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'mlp', handler: 'tensor', model: mlp() });
    server = await startTestServer(store, ['mlp.mar'], { max_request_size: String(LIMIT) });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  const host = () => new URL(server.inferenceUrl).host;
  const chunks = (n: number, size: number) => Array.from({ length: n }, () => Buffer.alloc(size, 0x31));

  for (const path of ['/predictions/mlp', '/v2/models/mlp/infer', '/v1/models/mlp:predict']) {
    it(`${path}: a chunked body over max_request_size gets 413 with Connection: close, and the server closes`, async () => {
      const res = await rawExchange(server.inferenceUrl, {
        head: `POST ${path} HTTP/1.1\r\nHost: ${host()}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked`,
        chunks: chunks(16, 4096),
        chunked: true,
        finish: true,
        waitMs: 20_000,
      });
      expect(res.status).to.equal(413);
      expect(res.headers.connection).to.equal('close');
      expect(res.text).to.contain(`max_request_size (${LIMIT} bytes)`);
      expect(res.closedByServer, 'the server closed the connection').to.equal(true);
      expect(res.error).to.equal(undefined);
    });
  }

  it('a client that says Connection: close and goes on sending a large body reads the 413, with no EPIPE or reset', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await rawExchange(server.inferenceUrl, {
        head: `POST /predictions/mlp HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked`,
        chunks: chunks(2048, 8192),
        chunked: true,
        finish: true,
        waitMs: 20_000,
      });
      expect(res.error, `round ${i}`).to.equal(undefined);
      expect(res.status, `round ${i}`).to.equal(413);
    }
  });

  it('a declared Content-Length over the limit is answered 413 before the body is read, and the connection closes', async () => {
    const res = await rawExchange(server.inferenceUrl, {
      head: `POST /predictions/mlp HTTP/1.1\r\nHost: ${host()}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${1024 * 1024}`,
      chunks: chunks(128, 8192),
      chunked: false,
      finish: true,
      waitMs: 20_000,
    });
    expect(res.status).to.equal(413);
    expect(res.headers.connection).to.equal('close');
    expect(res.error).to.equal(undefined);
    expect(res.closedByServer).to.equal(true);
  });

  it('keeps ordinary requests on a keep-alive connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify({ inputs: { input: [Array.from({ length: 16 }, () => 0.5)] } });
    const send = () =>
      new Promise<{ status: number; connection?: string; port?: number }>((resolve, reject) => {
        const req = http.request(`${server.inferenceUrl}/predictions/mlp`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, port: req.socket?.localPort }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const a = await send();
    const b = await send();
    agent.destroy();
    expect([a.status, b.status]).to.deep.equal([200, 200]);
    expect(a.connection).to.equal('keep-alive');
    expect(b.port).to.equal(a.port);
  });
});
