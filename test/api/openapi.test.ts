import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Middleware } from 'koa';
import { compileErrors, validate } from '@readme/openapi-parser';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import { createInferenceApp, type InferenceDeps } from '../../src/api/inference-app.ts';
import { createManagementApp, type ManagementDeps } from '../../src/api/management-app.ts';
import { inferenceDocument } from '../../src/api/openapi/inference.ts';
import { managementDocument } from '../../src/api/openapi/management.ts';
import { type Document, METHODS, type Schema } from '../../src/api/openapi/types.ts';
import { routesOf } from '../../src/api/routes.ts';
import { createLogger } from '../../src/log.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const pkg = JSON.parse(await fs.readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Every (method, path) a document describes, as `GET /models/{name}`. */
function described(doc: Document): string[] {
  return Object.entries(doc.paths).flatMap(([p, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${p}`)).sort();
}

const served = (app: Parameters<typeof routesOf>[0]) => routesOf(app).map((r) => `${r.method} ${r.path}`).sort();

async function expectValid(doc: unknown): Promise<void> {
  const result = await validate(structuredClone(doc) as never);
  expect(result.valid, result.valid ? '' : compileErrors(result)).to.equal(true);
  expect(result.warnings).to.deep.equal([]);
}

/** Building an app only registers routes: stand-in deps; `auth`/`tokenApi` present as when tokens are on. */
const pass: Middleware = (_ctx, next) => next();
const stand = { log: createLogger('silent'), maxRequestSize: 1024, healthy: () => true, modelApi: true } as unknown;

async function call(url: string, method = 'GET', headers: Record<string, string> = {}) {
  const res = await fetch(url, { method, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
}

/** The described response of an operation for a status, with its top-level schema's $ref resolved. */
function describedSchema(doc: Document, method: string, p: string, status: number): Schema {
  const r = doc.paths[p]?.[method as (typeof METHODS)[number]]?.responses[String(status)];
  expect(r, `${method} ${p} ${status} is described`).to.not.equal(undefined);
  const schema = (r as { content: Record<string, { schema: Schema }> }).content['application/json'].schema;
  return schema.$ref ? doc.components.schemas![schema.$ref.split('/').pop()!] : schema;
}

describe('OpenAPI descriptions', function () {
  describe('match the routes the apps serve', function () {
    for (const tokens of [false, true]) {
      const security = tokens ? { auth: pass, tokenApi: pass } : {};
      it(`inference: every route is described and nothing else (tokens ${tokens ? 'on' : 'off'})`, () => {
        const routes = served(createInferenceApp({ ...(stand as InferenceDeps), ...security }));
        expect(routes).to.include.members(['POST /predictions/{model}', 'POST /v1/models/{name}:predict', 'POST /v2/models/{name}/versions/{version}/infer', 'OPTIONS /', 'GET /api-description']);
        expect(described(inferenceDocument({ tokens }))).to.deep.equal(routes);
      });
      it(`management: every route is described and nothing else (tokens ${tokens ? 'on' : 'off'})`, () => {
        const routes = served(createManagementApp({ ...(stand as ManagementDeps), ...security }));
        expect(routes.includes('GET /token')).to.equal(tokens);
        expect(described(managementDocument({ tokens, tokenApi: tokens }))).to.deep.equal(routes);
      });
    }

    it('are valid OpenAPI 3.0.1 documents (@readme/openapi-parser), with the package version', async () => {
      for (const tokens of [false, true]) {
        for (const doc of [inferenceDocument({ tokens }), managementDocument({ tokens, tokenApi: tokens })]) {
          expect(doc.openapi).to.equal('3.0.1');
          expect(doc.info.version).to.equal(pkg.version);
          await expectValid(doc);
        }
      }
    });

    it('name the bearer key of each operation when tokens are on, and leave the probes and descriptions open', () => {
      const inf = inferenceDocument({ tokens: true });
      expect(inf.paths['/predictions/{model}'].post!.security).to.deep.equal([{ inferenceKey: [] }]);
      expect(inf.paths['/predictions/{model}'].post!.responses['401']).to.not.equal(undefined);
      expect(describedSchema(inf, 'post', '/v2/models/{name}/infer', 401).required).to.deep.equal(['error']);
      for (const [p, m] of [['/ping', 'get'], ['/v2/health/ready', 'get'], ['/', 'options'], ['/api-description', 'get']] as const) {
        expect(inf.paths[p][m]!.security, p).to.deep.equal([]);
      }
      const mgmt = managementDocument({ tokens: true, tokenApi: true });
      expect(mgmt.paths['/models'].post!.security).to.deep.equal([{ managementKey: [] }]);
      expect(mgmt.paths['/token'].get!.security).to.deep.equal([{ apiKey: [] }]);
      expect(Object.keys(mgmt.components.securitySchemes!)).to.deep.equal(['apiKey', 'managementKey']);
    });

    it('declare the bearer schemes and 401s with tokens off too, the key optional, so generated clients can authenticate', async () => {
      const inf = inferenceDocument({ tokens: false });
      expect(inf.components.securitySchemes).to.have.property('inferenceKey').that.deep.includes({ type: 'http', scheme: 'bearer' });
      expect(inf.paths['/predictions/{model}'].post!.security).to.deep.equal([{}, { inferenceKey: [] }]);
      expect(inf.paths['/predictions/{model}'].post!.responses['401']).to.not.equal(undefined);
      expect(inf.paths['/ping'].get!.security).to.deep.equal([]);
      const mgmt = managementDocument({ tokens: false, tokenApi: false });
      expect(mgmt.paths['/models'].post!.security).to.deep.equal([{}, { managementKey: [] }]);
      expect(Object.keys(mgmt.components.securitySchemes!)).to.deep.equal(['managementKey']);
      await expectValid(inf);
      await expectValid(mgmt);
    });
  });

  describe('served by a running server', function () {
    let store: TestStore;
    let server: RunningServer;

    before(async () => {
      store = await TestStore.create();
      await store.add({ name: 'adder', model: addOne(), handler: 'hooks-object.js' });
      server = await startTestServer(store, ['adder.mar']);
    });
    after(async () => {
      await server?.stop();
      await store?.remove();
    });

    it('answers OPTIONS / and GET /api-description on both ports with the app\'s document', async () => {
      for (const [base, doc] of [[server.inferenceUrl, inferenceDocument({ tokens: false })], [server.managementUrl, managementDocument({ tokens: false, tokenApi: true })]] as const) {
        for (const method of ['OPTIONS', 'GET']) {
          const res = await call(`${base}${method === 'OPTIONS' ? '/' : '/api-description'}`, method);
          expect(res.status, `${method} ${base}`).to.equal(200);
          expect(res.headers.get('content-type')).to.match(/^application\/json/);
          expect(res.json).to.deep.equal(doc);
        }
      }
    });

    it('refuses other methods on / and /api-description with 405 and Allow', async () => {
      for (const [url, method, allow] of [
        [`${server.inferenceUrl}/`, 'POST', 'GET, HEAD, OPTIONS'],
        [`${server.managementUrl}/`, 'GET', 'OPTIONS'],
        [`${server.managementUrl}/api-description`, 'POST', 'GET, HEAD'],
      ]) {
        const res = await call(url, method);
        expect(res.status).to.equal(405);
        expect(res.headers.get('allow')).to.equal(allow);
        expect(res.json).to.include({ code: 405, type: 'MethodNotAllowedException' });
      }
    });

    it('gives each model its own valid document from OPTIONS /predictions/{model}[/{version}]', async () => {
      const res = await call(`${server.inferenceUrl}/predictions/adder`, 'OPTIONS');
      expect(res.status).to.equal(200);
      const doc = res.json as Document;
      await expectValid(doc);
      expect(Object.keys(doc.paths)).to.include.members(['/predictions/adder', '/v1/models/adder:predict', '/v2/models/adder/infer', '/v2/models/adder/versions/1.0/infer']);
      const input = doc.components.schemas!.ModelInferenceRequest.properties!.inputs.items!.oneOf![0].properties!;
      expect([input.name.enum, input.datatype.enum, input.shape.minItems]).to.deep.equal([['x'], ['FP32'], 2]);
      // A request built from the description runs.
      const body = { inputs: [{ name: input.name.enum![0], datatype: input.datatype.enum![0], shape: [1, 4], data: [1, 2, 3, 4] }] };
      const infer = await fetch(`${server.inferenceUrl}/v2/models/adder/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(infer.status).to.equal(200);
      const out = (await infer.json()) as { outputs: { name: string }[] };
      expect(doc.components.schemas!.ModelInferenceResponse.properties!.outputs.items!.oneOf![0].properties!.name.enum).to.deep.equal([out.outputs[0].name]);
      expect((await call(`${server.inferenceUrl}/predictions/adder/1.0`, 'OPTIONS')).json.info.title).to.equal('modelserver: model "adder" version 1.0');
      const missing = await call(`${server.inferenceUrl}/predictions/absent`, 'OPTIONS');
      expect(missing.status).to.equal(404);
      expect(missing.json).to.include({ code: 404 });
    });

    it('describes the bodies the routes really answer (required keys of success and error schemas)', async () => {
      const inf = inferenceDocument({ tokens: false });
      const mgmt = managementDocument({ tokens: false, tokenApi: true });
      const cases: [Document, string, string, string, string, number][] = [
        [inf, server.inferenceUrl, 'get', '/ping', '/ping', 200],
        [inf, server.inferenceUrl, 'get', '/v2', '/v2', 200],
        [inf, server.inferenceUrl, 'get', '/v2/models/{name}', '/v2/models/adder', 200],
        [inf, server.inferenceUrl, 'get', '/v1/models/{name}', '/v1/models/adder', 200],
        [inf, server.inferenceUrl, 'put', '/predictions/{model}', '/predictions/absent', 404],
        [inf, server.inferenceUrl, 'post', '/v1/models/{name}:predict', '/v1/models/absent:predict', 404],
        [inf, server.inferenceUrl, 'post', '/v2/models/{name}/infer', '/v2/models/absent/infer', 404],
        [mgmt, server.managementUrl, 'get', '/models', '/models', 200],
        [mgmt, server.managementUrl, 'get', '/models/{name}/{version}', '/models/adder/all', 200],
        [mgmt, server.managementUrl, 'delete', '/models/{name}', '/models/absent', 404],
      ];
      for (const [doc, base, method, template, p, status] of cases) {
        const res = await call(base + p, method.toUpperCase(), { 'content-type': 'application/json' });
        expect(res.status, `${method} ${p}`).to.equal(status);
        const schema = describedSchema(doc, method, template, status);
        const body = schema.type === 'array' ? res.json[0] : res.json;
        const required = schema.type === 'array' ? doc.components.schemas![schema.items!.$ref!.split('/').pop()!].required : schema.required;
        expect(Object.keys(body), `${method} ${p}`).to.include.members(required ?? []);
      }
    });
  });

  describe('with token authorization on', function () {
    let store: TestStore;
    let server: RunningServer;
    let dir: string;

    before(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-openapi-'));
      store = await TestStore.create();
      await store.add({ name: 'adder', model: addOne(), handler: 'hooks-object.js' });
      server = await startTestServer(store, ['adder.mar'], { disable_token_authorization: 'false', key_file: path.join(dir, 'key_file.json') });
    });
    after(async () => {
      await server?.stop();
      await store?.remove();
      await fs.rm(dir, { recursive: true, force: true });
    });

    it('serves the descriptions without a token (as TorchServe), but a model\'s only with the inference key', async () => {
      for (const base of [server.inferenceUrl, server.managementUrl]) {
        expect((await call(`${base}/`, 'OPTIONS')).status).to.equal(200);
        const res = await call(`${base}/api-description`);
        expect(res.status).to.equal(200);
        expect(res.json.components.securitySchemes).to.be.an('object');
      }
      expect((await call(`${server.inferenceUrl}/predictions/adder`, 'OPTIONS')).status).to.equal(401);
      const keys = JSON.parse(await fs.readFile(path.join(dir, 'key_file.json'), 'utf8')) as { inference: { key: string } };
      const res = await call(`${server.inferenceUrl}/predictions/adder`, 'OPTIONS', { authorization: `Bearer ${keys.inference.key}` });
      expect(res.status).to.equal(200);
      expect(res.json.paths).to.have.property('/predictions/adder');
    });
  });
});
