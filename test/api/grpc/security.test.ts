/**
 * gRPC security and discovery: tokens in the `authorization` metadata (UNAUTHENTICATED otherwise; health,
 * liveness, readiness and reflection open), TLS with the HTTP key and certificate (enable_grpc_ssl), the
 * standard health service, and server reflection listing what grpcurl needs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { RunningServer } from '../../../src/server.ts';
import { client, close, failure, unary, type Client } from '../../helpers/grpc.ts';
import { startTestServer, TestStore } from '../../helpers/server.ts';
import { identity } from '../../helpers/v2-models.ts';

const S = grpc.status;
const x = { name: 'x', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [1, 2] } };
type KeyFile = Record<'API' | 'inference' | 'management', { key: string }>;
const bearer = (key: string) => ({ metadata: { authorization: `Bearer ${key}` } });

describe('gRPC security', function () {
  let store: TestStore;
  let dir: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-grpc-sec-'));
    store = await TestStore.create();
    await store.add({ name: 'id', model: identity('FP32'), handler: 'echo.js' });
  });
  after(async () => {
    await store?.remove();
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('tokens', () => {
    let server: RunningServer;
    let keys: KeyFile;
    let triton: Client;
    let ts: Client;
    let mgmt: Client;
    let health: Client;
    before(async () => {
      const keyFile = path.join(dir, 'key_file.json');
      server = await startTestServer(store, ['id.mar'], { disable_token_authorization: 'false', key_file: keyFile });
      keys = JSON.parse(await fs.readFile(keyFile, 'utf8')) as KeyFile;
      triton = client('triton', server.grpcInferenceTarget);
      ts = client('torchserveInference', server.grpcInferenceTarget);
      mgmt = client('torchserveManagement', server.grpcManagementTarget);
      health = client('health', server.grpcInferenceTarget);
    });
    after(async () => {
      close(triton, ts, mgmt, health);
      await server?.stop();
    });

    it('refuses a call without a token, or with a wrong one, with UNAUTHENTICATED and a message', async () => {
      const none = await failure(unary(triton, 'ModelInfer', { model_name: 'id', inputs: [x] }));
      expect(none.code).to.equal(S.UNAUTHENTICATED);
      expect(none.details).to.contain('authorization: Bearer <key>');
      const wrong = await failure(unary(triton, 'ModelInfer', { model_name: 'id', inputs: [x] }, bearer('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')));
      expect(wrong.code).to.equal(S.UNAUTHENTICATED);
      expect(wrong.details).to.contain('the token is not the inference key');
      const mgmtKey = await failure(unary(triton, 'ModelMetadata', { name: 'id' }, bearer(keys.management.key)));
      expect(mgmtKey.code).to.equal(S.UNAUTHENTICATED);
      expect((await failure(unary(ts, 'Predictions', { model_name: 'id', input: {} }))).code).to.equal(S.UNAUTHENTICATED);
      expect((await failure(unary(mgmt, 'ListModels', {}, bearer(keys.inference.key)))).code).to.equal(S.UNAUTHENTICATED);
      const stream = await failure(
        new Promise((resolve, reject) => {
          const call = triton.ModelStreamInfer() as grpc.ClientDuplexStream<unknown, unknown>;
          call.on('data', resolve);
          call.on('error', reject);
          call.on('end', resolve);
          call.write({ model_name: 'id', inputs: [x] });
          call.end();
        }),
      );
      expect(stream.code).to.equal(S.UNAUTHENTICATED);
    });

    it('serves with the right key; health, liveness, readiness and Ping need none', async () => {
      const res = await unary(triton, 'ModelInfer', { model_name: 'id', inputs: [x] }, bearer(keys.inference.key));
      expect(res.outputs[0].name).to.equal('y');
      expect(JSON.parse((await unary(mgmt, 'ListModels', {}, bearer(keys.management.key))).msg).models).to.have.length(1);
      expect(await unary(triton, 'ServerLive', {})).to.deep.equal({ live: true });
      expect(await unary(triton, 'ServerReady', {})).to.deep.equal({ ready: true });
      expect(JSON.parse((await unary(ts, 'Ping', {})).health).status).to.equal('Healthy');
      expect((await unary(health, 'Check', { service: '' })).status).to.equal('SERVING');
    });
  });

  describe('TLS (enable_grpc_ssl)', () => {
    let server: RunningServer;
    let ca: Buffer;
    before(async () => {
      const key = path.join(dir, 'key.pem');
      const cert = path.join(dir, 'cert.pem');
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
      ], { stdio: 'ignore' });
      ca = await fs.readFile(cert);
      server = await startTestServer(store, ['id.mar'], { enable_grpc_ssl: 'true', private_key_file: key, certificate_file: cert });
    });
    after(() => server?.stop());

    it('serves a client that trusts the certificate, and not a plaintext one', async () => {
      const secure = client('triton', server.grpcInferenceTarget, grpc.credentials.createSsl(ca));
      const plain = client('triton', server.grpcInferenceTarget);
      try {
        expect((await unary(secure, 'ModelInfer', { model_name: 'id', inputs: [x] })).outputs[0].name).to.equal('y');
        const err = await failure(unary(plain, 'ServerLive', {}, { deadlineMs: 5000 }));
        expect(err.code).to.be.oneOf([S.UNAVAILABLE, S.DEADLINE_EXCEEDED]);
      } finally {
        close(secure, plain);
      }
    });
  });

  describe('health and reflection', () => {
    let server: RunningServer;
    before(async () => {
      server = await startTestServer(store, ['id.mar']);
    });
    after(() => server?.stop());

    it('grpc.health.v1: Check, List and Watch on both listeners; an unknown service is NOT_FOUND', async () => {
      const h = client('health', server.grpcInferenceTarget);
      const hm = client('health', server.grpcManagementTarget);
      try {
        for (const service of ['', 'inference.GRPCInferenceService', 'org.pytorch.serve.grpc.inference.InferenceAPIsService']) {
          expect((await unary(h, 'Check', { service })).status, service).to.equal('SERVING');
        }
        expect((await unary(hm, 'Check', { service: 'org.pytorch.serve.grpc.management.ManagementAPIsService' })).status).to.equal('SERVING');
        const unknown = await failure(unary(h, 'Check', { service: 'nope.Service' }));
        expect(unknown.code).to.equal(S.NOT_FOUND);
        expect(Object.keys((await unary(h, 'List', {})).statuses).sort()).to.deep.equal(
          ['', 'inference.GRPCInferenceService', 'org.pytorch.serve.grpc.inference.InferenceAPIsService'],
        );
        const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
          const call = h.Watch({ service: '' }) as grpc.ClientReadableStream<Record<string, unknown>>;
          call.on('data', (d) => {
            resolve(d);
            call.cancel();
          });
          call.on('error', (e: grpc.ServiceError) => (e.code === S.CANCELLED ? undefined : reject(e)));
        });
        expect(first.status).to.equal('SERVING');
      } finally {
        close(h, hm);
      }
    });

    it('server reflection lists the services, so grpcurl needs no .proto files', async () => {
      const require = createRequire(import.meta.url);
      const file = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
      const def = grpc.loadPackageDefinition(protoLoader.loadSync(file, { keepCase: true })) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      const listServices = async (target: string) => {
        const r = new def.grpc.reflection.v1.ServerReflection(target, grpc.credentials.createInsecure());
        try {
          return await new Promise<string[]>((resolve, reject) => {
            const call = r.ServerReflectionInfo();
            call.on('data', (d: { list_services_response: { service: { name: string }[] } }) => {
              resolve(d.list_services_response.service.map((s) => s.name).sort());
              call.end();
            });
            call.on('error', reject);
            call.write({ list_services: '' });
          });
        } finally {
          r.close();
        }
      };
      expect(await listServices(server.grpcInferenceTarget)).to.include.members([
        'grpc.health.v1.Health',
        'inference.GRPCInferenceService',
        'org.pytorch.serve.grpc.inference.InferenceAPIsService',
      ]);
      const m = await listServices(server.grpcManagementTarget);
      expect(m).to.include('org.pytorch.serve.grpc.management.ManagementAPIsService');
      expect(m).to.not.include('inference.GRPCInferenceService');
    });
  });
});
