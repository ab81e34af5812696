import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/log.ts';
import type { RunningServer } from '../../src/server.ts';
import { startServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A self-signed P-256 certificate for 127.0.0.1, made with the openssl command line. */
function selfSigned(dir: string, name: string): { key: string; cert: string } {
  const key = path.join(dir, `${name}.key.pem`);
  const cert = path.join(dir, `${name}.cert.pem`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { key, cert };
}

function get(url: string, ca: Buffer, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; body: string; protocol: string }>((resolve, reject) => {
    const req = https.request(url, { ca, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = '';
      const protocol = (res.socket as TLSSocket).getProtocol() ?? '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, protocol }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('security: TLS with private_key_file and certificate_file', function () {
  let dir: string;
  let store: TestStore;
  let tls: { key: string; cert: string };
  let ca: Buffer;

  before(async function () {
    if (!hasOpenssl()) this.skip(); // the certificate is made with openssl at test time
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-tls-'));
    store = await TestStore.create();
    await store.add({ name: 'echo', handler: 'echo.js' });
    tls = selfSigned(dir, 'server');
    ca = await fs.readFile(tls.cert);
  });
  after(async () => {
    await store?.remove();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  describe('https listeners', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer(store, ['echo.mar'], {
        inference_address: 'https://127.0.0.1:0',
        management_address: 'https://127.0.0.1:0',
        metrics_address: 'https://127.0.0.1:0',
        private_key_file: tls.key,
        certificate_file: tls.cert,
      });
    });
    after(() => server?.stop());

    it('serves every API over TLS to a client that trusts the certificate', async () => {
      expect([server.inferenceUrl, server.managementUrl, server.metricsUrl].every((u) => u.startsWith('https://127.0.0.1:'))).to.equal(true);
      const ping = await get(`${server.inferenceUrl}/ping`, ca);
      expect(ping.status).to.equal(200);
      expect(ping.protocol).to.match(/^TLSv1\.[23]$/);
      const pred = await get(`${server.inferenceUrl}/predictions/echo`, ca, {
        method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' },
      });
      expect(pred.status).to.equal(200);
      expect(JSON.parse(pred.body).data).to.deep.equal({ a: 1 });
      expect((await get(`${server.managementUrl}/models`, ca)).status).to.equal(200);
      expect((await get(`${server.metricsUrl}/metrics`, ca)).status).to.equal(200);
    });

    it('is refused by a client that does not trust the certificate', async () => {
      const other = await fs.readFile(selfSigned(dir, 'other').cert);
      const err = await get(`${server.inferenceUrl}/ping`, other).catch((e: NodeJS.ErrnoException) => e);
      expect(err).to.be.instanceOf(Error);
      expect((err as NodeJS.ErrnoException).code).to.match(/CERT|SELF_SIGNED|UNABLE/);
    });
  });

  it('refuses to start with a missing file, or a key that does not match the certificate', async () => {
    const other = selfSigned(dir, 'mismatch');
    const cases: [Record<string, string>, string][] = [
      [{ private_key_file: path.join(dir, 'nope.pem'), certificate_file: tls.cert }, 'cannot read private_key_file'],
      [{ private_key_file: other.key, certificate_file: tls.cert }, 'not a usable PEM key and certificate pair'],
    ];
    for (const [files, message] of cases) {
      const config = loadConfig({
        cli: { inference_address: 'https://127.0.0.1:0', management_address: 'http://127.0.0.1:0', metrics_address: 'http://127.0.0.1:0', ...files },
        env: {},
        cwd: dir,
      });
      const err = await startServer(config, { log: createLogger('silent'), workDirParent: dir }).catch((e: Error) => e);
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.contain(message);
    }
  });
});
