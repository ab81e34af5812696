import { expect } from 'chai';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const APP = 'https://app.example.com';
const preflight = (url: string, origin: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });

describe('security: CORS', function () {
  let store: TestStore;
  let dir: string;
  before(async () => {
    store = await TestStore.create();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-cors-'));
  });
  after(async () => {
    await store?.remove();
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('off unless configured', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer(store, []);
    });
    after(() => server?.stop());

    it('sends no CORS headers and answers no preflight', async () => {
      for (const url of [`${server.inferenceUrl}/ping`, `${server.managementUrl}/models`, `${server.metricsUrl}/metrics`]) {
        const res = await fetch(url, { headers: { origin: APP } });
        expect(res.status, url).to.equal(200);
        expect(res.headers.get('access-control-allow-origin'), url).to.equal(null);
        const pre = await preflight(url, APP);
        expect(pre.headers.get('access-control-allow-origin'), url).to.equal(null);
        expect(pre.headers.get('access-control-allow-methods'), url).to.equal(null);
      }
    });
  });

  describe('on with cors_allowed_origin, methods and headers, and tokens on', () => {
    let server: RunningServer;
    let key: string;
    before(async () => {
      const keyFile = path.join(dir, 'key_file.json');
      server = await startTestServer(store, [], {
        cors_allowed_origin: `${APP}, https://other.example.com`,
        cors_allowed_methods: 'GET, POST',
        cors_allowed_headers: 'Authorization, Content-Type',
        disable_token_authorization: 'false',
        key_file: keyFile,
      });
      key = JSON.parse(await fs.readFile(keyFile, 'utf8')).management.key as string;
    });
    after(() => server?.stop());

    it('answers a preflight from an allowed origin with 204, without a token', async () => {
      for (const url of [`${server.inferenceUrl}/predictions/any`, `${server.managementUrl}/models`, `${server.metricsUrl}/metrics`]) {
        const res = await preflight(url, APP);
        expect(res.status, url).to.equal(204);
        expect(res.headers.get('access-control-allow-origin'), url).to.equal(APP);
        expect(res.headers.get('access-control-allow-methods'), url).to.equal('GET, POST');
        expect(res.headers.get('access-control-allow-headers'), url).to.equal('Authorization, Content-Type');
        expect(res.headers.get('vary'), url).to.contain('Origin');
      }
    });

    it('marks answers (a 401 included) to allowed origins only, so a page can read them', async () => {
      const ok = await fetch(`${server.managementUrl}/models`, { headers: { origin: APP, authorization: `Bearer ${key}` } });
      expect(ok.status).to.equal(200);
      expect(ok.headers.get('access-control-allow-origin')).to.equal(APP);
      expect(ok.headers.get('access-control-expose-headers')).to.contain('x-request-id');
      const denied = await fetch(`${server.managementUrl}/models`, { headers: { origin: APP } });
      expect(denied.status).to.equal(401);
      expect(denied.headers.get('access-control-allow-origin')).to.equal(APP);

      const evil = 'https://evil.example.com';
      const other = await fetch(`${server.managementUrl}/models`, { headers: { origin: evil, authorization: `Bearer ${key}` } });
      expect(other.status).to.equal(200);
      expect(other.headers.get('access-control-allow-origin')).to.equal(null);
      const pre = await preflight(`${server.managementUrl}/models`, evil);
      expect(pre.status).to.equal(401); // not answered as a preflight: it goes to the token check
      expect(pre.headers.get('access-control-allow-origin')).to.equal(null);
    });
  });

  describe('with cors_allowed_origin=*', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer(store, [], { cors_allowed_origin: '*' });
    });
    after(() => server?.stop());

    it('allows any origin with "*", and the default methods and headers', async () => {
      const res = await preflight(`${server.inferenceUrl}/predictions/any`, 'http://localhost:3000');
      expect(res.status).to.equal(204);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      expect(res.headers.get('access-control-allow-methods')).to.equal('GET, POST, PUT, DELETE, OPTIONS');
      expect(res.headers.get('access-control-allow-headers')).to.contain('Authorization');
      const ping = await fetch(`${server.inferenceUrl}/ping`, { headers: { origin: 'http://localhost:3000' } });
      expect(ping.headers.get('access-control-allow-origin')).to.equal('*');
    });
  });
});
