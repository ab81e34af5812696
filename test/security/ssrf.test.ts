import { expect } from 'chai';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

/** A small HTTP server on loopback standing in for a model host: routes by path. */
async function host(routes: Record<string, (res: http.ServerResponse) => void>): Promise<{ url: string; close: () => Promise<void>; hits: string[] }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const route = routes[req.url ?? ''];
    if (route) route(res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('registration by URL: allowed_urls, redirects and size (SSRF)', function () {
  let store: TestStore;
  let server: RunningServer;
  let allowed: Awaited<ReturnType<typeof host>>;
  let other: Awaited<ReturnType<typeof host>>;
  let mar: Buffer;

  before(async () => {
    store = await TestStore.create();
    const file = await store.add({ name: 'remote', handler: 'echo.js' });
    mar = await fs.readFile(path.join(store.dir, file));
    await fs.rm(path.join(store.dir, file));
    other = await host({ '/evil.mar': (res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(mar) });
    allowed = await host({
      '/models/remote.mar': (res) => res.writeHead(200).end(mar),
      '/models/hop.mar': (res) => res.writeHead(302, { location: '/models/remote.mar' }).end(),
      '/models/away.mar': (res) => res.writeHead(302, { location: `${other.url}/evil.mar` }).end(),
      '/models/huge.mar': (res) => res.writeHead(200, { 'content-length': String(3 * 1024 ** 3) }).end(),
    });
    const escaped = allowed.url.replace(/[.]/g, '\\.');
    server = await startTestServer(store, [], { allowed_urls: `${escaped}/models/.*` });
  });
  after(async () => {
    await server?.stop();
    await allowed?.close();
    await other?.close();
    await store?.remove();
  });

  const register = (url: string) =>
    fetch(`${server.managementUrl}/models?url=${encodeURIComponent(url)}&initial_workers=1`, { method: 'POST' }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { status?: string; message?: string },
    }));

  it('refuses a host that allowed_urls does not permit, without contacting it', async () => {
    const res = await register(`${other.url}/evil.mar`);
    expect(res.status).to.equal(400);
    expect(res.body.message).to.contain('allowed_urls');
    expect(other.hits).to.deep.equal([]);
  });

  it('refuses a redirect to a host that is not allowed, without following it', async () => {
    const res = await register(`${allowed.url}/models/away.mar`);
    expect(res.status).to.equal(400);
    expect(res.body.message).to.contain('allowed_urls').and.contain(other.url);
    expect(other.hits).to.deep.equal([]);
  });

  it('refuses an archive whose declared size is over the limit, keeping nothing', async () => {
    const res = await register(`${allowed.url}/models/huge.mar`);
    expect(res.status).to.equal(400);
    expect(res.body.message).to.match(/limit/);
    expect(await fs.readdir(store.dir)).to.not.include('huge.mar');
  });

  it('downloads an allowed archive (following an allowed redirect) into the model store and serves it', async () => {
    const res = await register(`${allowed.url}/models/hop.mar`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.status).to.contain('"remote"');
    expect(await fs.readdir(store.dir)).to.include('hop.mar');
    const pred = await fetch(`${server.inferenceUrl}/predictions/remote`, { method: 'POST', body: 'hi', headers: { 'content-type': 'text/plain' } });
    expect(pred.status).to.equal(200);
    const again = await register(`${allowed.url}/models/hop.mar`);
    expect(again.status).to.equal(409);
  });
});
