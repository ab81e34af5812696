import { expect } from 'chai';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { inferenceRoutes, managementRoutes, type Route } from './routes.ts';

interface KeyFile {
  management: { key: string; 'expiration time': string };
  inference: { key: string; 'expiration time': string };
  API: { key: string };
}

async function call(base: string, route: Route, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + route.path, { method: route.method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

const WRONG = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

describe('security: token authorization on every endpoint', function () {
  let store: TestStore;
  let server: RunningServer;
  let dir: string;
  let keyFile: string;
  let now = Date.parse('2030-01-01T00:00:00Z');
  const keys = async (): Promise<KeyFile> => JSON.parse(await fs.readFile(keyFile, 'utf8')) as KeyFile;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-auth-'));
    keyFile = path.join(dir, 'key_file.json');
    store = await TestStore.create();
    await store.add({ name: 'adder', handler: 'hooks-object.js', model: addOne() });
    server = await startTestServer(
      store,
      ['adder.mar'],
      { disable_token_authorization: 'false', key_file: keyFile, token_expiration_min: '30' },
      { clock: () => now },
    );
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes TorchServe\'s key file shape with mode 0600 and long random URL-safe keys', async () => {
    const st = await fs.stat(keyFile);
    if (process.platform !== 'win32') expect(st.mode & 0o777).to.equal(0o600);
    const k = await keys();
    expect(Object.keys(k).sort()).to.deep.equal(['API', 'inference', 'management']);
    const all = [k.management.key, k.inference.key, k.API.key];
    for (const key of all) expect(key).to.match(/^[A-Za-z0-9_-]{32}$/);
    expect(new Set(all).size).to.equal(3);
    expect(k.management['expiration time']).to.equal('2030-01-01T00:30:00.000Z');
    expect(k.inference['expiration time']).to.equal('2030-01-01T00:30:00.000Z');
  });

  const expect401 = (res: Awaited<ReturnType<typeof call>>, route: Route, invalid: boolean) => {
    const where = `${route.method} ${route.path}`;
    expect(res.status, where).to.equal(401);
    expect(res.headers.get('www-authenticate'), where).to.match(/^Bearer realm="modelserver"/);
    if (invalid) expect(res.headers.get('www-authenticate'), where).to.contain('error="invalid_token"');
    expect(res.headers.get('x-request-id'), where).to.be.a('string');
    if (/^\/v[12]\b/.test(route.path)) expect(res.json.error, where).to.contain('Authorization: Bearer');
    else expect(res.json, where).to.deep.include({ code: 401, type: 'InvalidKeyException' });
  };

  for (const [api, routes] of [['inference', inferenceRoutes()], ['management', managementRoutes()]] as const) {
    it(`${api}: no token → 401, wrong token → 401, the other API's key → 401, its own key → through (${routes.length} routes)`, async () => {
      const base = api === 'inference' ? server.inferenceUrl : server.managementUrl;
      const k = await keys();
      const own = k[api].key;
      const other = api === 'inference' ? k.management.key : k.inference.key;
      const open = ['/ping', '/v2/health/live', '/v2/health/ready'];
      expect(routes.map((r) => r.path)).to.include(api === 'inference' ? '/predictions/absent' : '/models/absent');
      for (const route of routes) {
        const where = `${route.method} ${route.path}`;
        if (open.includes(route.path)) {
          expect((await call(base, route)).status, where).to.not.equal(401);
          continue;
        }
        expect401(await call(base, route), route, false);
        expect401(await call(base, route, WRONG), route, true);
        expect401(await call(base, route, other), route, true);
        expect401(await call(base, route, k.API.key), route, true);
        const ok = await call(base, route, own);
        expect(ok.status, where).to.not.equal(401);
        // Trace and shared memory are not supported: their answer is Triton's 503 / 501, in the protocol's shape.
        if (/\/trace\/setting$|sharedmemory/.test(route.path)) expect([501, 503], where).to.include(ok.status);
        else expect(ok.status, where).to.be.below(500);
      }
    });
  }

  it('refuses unknown paths and malformed Authorization headers as well', async () => {
    const k = await keys();
    for (const auth of ['', `Basic ${k.inference.key}`, `Bearer`, `Bearer ${k.inference.key} extra`, k.inference.key]) {
      const res = await fetch(`${server.inferenceUrl}/predictions/adder`, { method: 'POST', headers: auth ? { authorization: auth } : {} });
      expect(res.status, auth).to.equal(401);
    }
    expect((await fetch(`${server.inferenceUrl}/no/such/path`)).status).to.equal(401);
    expect((await fetch(`${server.managementUrl}/no/such/path`)).status).to.equal(401);
  });

  it('serves with the right keys (the scheme is case-insensitive); /ping and /metrics stay open', async () => {
    const k = await keys();
    const res = await fetch(`${server.inferenceUrl}/predictions/adder`, {
      method: 'POST',
      headers: { authorization: `bearer ${k.inference.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ x: [1, 2, 3, 4] }),
    });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ y: [2, 3, 4, 5] });
    const list = await call(server.managementUrl, { method: 'GET', path: '/models' }, k.management.key);
    expect(list.json.models.map((m: { modelName: string }) => m.modelName)).to.deep.equal(['adder']);
    expect((await fetch(`${server.inferenceUrl}/ping`)).status).to.equal(200);
    expect((await fetch(`${server.metricsUrl}/metrics`)).status).to.equal(200);
  });

  it('GET /token replaces one key with the API key only; the old key stops working, the file is updated', async () => {
    const before = await keys();
    const token = (type: string, key: string) => call(server.managementUrl, { method: 'GET', path: `/token?type=${type}` }, key);
    expect401(await token('management', before.management.key), { method: 'GET', path: '/token' }, true);
    expect((await call(server.managementUrl, { method: 'GET', path: '/token?type=management' })).status).to.equal(401);
    const bad = await token('API', before.API.key);
    expect(bad.status).to.equal(400);
    expect(bad.json.message).to.contain('"management" or "inference"');

    now += 10 * 60_000;
    const res = await token('management', before.API.key);
    expect(res.status).to.equal(200);
    const fresh = res.json.management;
    expect(fresh.key).to.match(/^[A-Za-z0-9_-]{32}$/).and.not.equal(before.management.key);
    expect(fresh['expiration time']).to.equal(new Date(now + 30 * 60_000).toISOString());
    const after = await keys();
    expect(after.management).to.deep.equal(fresh);
    expect([after.inference, after.API]).to.deep.equal([before.inference, before.API]);
    if (process.platform !== 'win32') expect((await fs.stat(keyFile)).mode & 0o777).to.equal(0o600);
    const models = { method: 'GET', path: '/models' };
    expect401(await call(server.managementUrl, models, before.management.key), models, true);
    expect((await call(server.managementUrl, models, fresh.key)).status).to.equal(200);
  });

  it('expires keys after token_expiration_min (an injected clock), until /token gives a new one', async () => {
    const k = await keys();
    const predict = { method: 'POST', path: '/predictions/adder' };
    const go = (key: string) => call(server.inferenceUrl, predict, key, { x: [0, 0, 0, 0] });
    expect((await go(k.inference.key)).status).to.equal(200);
    now = Date.parse(k.inference['expiration time']) - 1;
    expect((await go(k.inference.key)).status).to.equal(200);
    now += 1;
    const expired = await go(k.inference.key);
    expect401(expired, predict, true);
    expect(expired.json.message).to.contain(`expired at ${k.inference['expiration time']}`).and.contain('GET /token?type=inference');
    // The API key does not expire.
    const res = await call(server.managementUrl, { method: 'GET', path: '/token?type=inference' }, k.API.key);
    expect(res.status).to.equal(200);
    expect((await go(res.json.inference.key)).status).to.equal(200);
  });

  it('removes the key file on a graceful stop', async () => {
    await server.stop();
    await fs.access(keyFile).then(
      () => expect.fail('the key file is still there'),
      (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ENOENT'),
    );
  });
});

describe('security: tokens off on loopback by default', function () {
  let store: TestStore;
  let server: RunningServer;
  let dir: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-auth-off-'));
    store = await TestStore.create();
    server = await startTestServer(store, [], { key_file: path.join(dir, 'key_file.json') });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes no key file, needs no token, and /token says there are no keys', async () => {
    expect(await fs.readdir(dir)).to.deep.equal([]);
    expect((await fetch(`${server.managementUrl}/models`)).status).to.equal(200);
    const res = await fetch(`${server.managementUrl}/token?type=management`);
    expect(res.status).to.equal(404);
    expect(((await res.json()) as { message: string }).message).to.contain('token authorization is off');
  });
});
