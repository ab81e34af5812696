/** TorchServe's gRPC services: InferenceAPIsService on the inference port, ManagementAPIsService on the management port. */
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import type { RunningServer } from '../../../src/server.ts';
import { bidi, client, close, failure, unary, type Client } from '../../helpers/grpc.ts';
import { startTestServer, TestStore } from '../../helpers/server.ts';

const S = grpc.status;
const json = (b: Buffer) => JSON.parse(Buffer.from(b).toString('utf8'));

describe('gRPC: TorchServe inference.proto and management.proto', function () {
  let store: TestStore;
  let server: RunningServer;
  let inf: Client;
  let mgmt: Client;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'echo', version: '2.0', handler: 'echo.js', file: 'echo-v2.mar' }); // packed as echo.mar, then renamed
    await store.add({ name: 'echo', handler: 'echo.js' });
    await store.add({ name: 'probe', handler: 'grpc-probe.js' });
    server = await startTestServer(store, ['echo.mar', 'probe.mar']);
    inf = client('torchserveInference', server.grpcInferenceTarget);
    mgmt = client('torchserveManagement', server.grpcManagementTarget);
  });
  after(async () => {
    close(inf, mgmt);
    await server?.stop();
    await store?.remove();
  });

  describe('InferenceAPIsService', () => {
    it('Ping answers the health as /ping does', async () => {
      const res = await unary(inf, 'Ping', {});
      expect(JSON.parse(res.health)).to.deep.equal({ status: 'Healthy' });
    });

    it('Predictions hands the input map to the handler as fields of bytes, data = the "data" entry', async () => {
      const res = await unary(inf, 'Predictions', { model_name: 'echo', input: { data: Buffer.from('hello'), extra: Buffer.from('x') } }, { metadata: { 'x-test': 'meta' } });
      const body = json(res.prediction);
      expect(body.data).to.deep.equal({ bytes: 5, base64: Buffer.from('hello').toString('base64') });
      expect(body.fields.sort()).to.deep.equal(['data', 'extra']);
      expect(body.header).to.equal('meta');
      expect(body.model).to.equal('echo');
      expect(body.version).to.equal('1.0');
    });

    it('Predictions with a version, and the errors TorchServe clients see', async () => {
      await unary(mgmt, 'RegisterModel', { url: 'echo-v2.mar', initial_workers: 1, synchronous: true });
      const v2 = json((await unary(inf, 'Predictions', { model_name: 'echo', model_version: '2.0', input: { data: Buffer.from('a') } })).prediction);
      expect(v2.version).to.equal('2.0');
      await unary(mgmt, 'UnregisterModel', { model_name: 'echo', model_version: '2.0' });
      const missing = await failure(unary(inf, 'Predictions', { model_name: '', input: {} }));
      expect([missing.code, missing.details]).to.deep.equal([S.INVALID_ARGUMENT, 'Parameter model_name is required.']);
      const unknown = await failure(unary(inf, 'Predictions', { model_name: 'nope', input: {} }));
      expect([unknown.code, unknown.details]).to.deep.equal([S.NOT_FOUND, 'Model not found: nope']);
      // a handler's own status maps as TorchServe's GRPCUtils maps it (422 → FAILED_PRECONDITION)
      const refused = await failure(unary(inf, 'Predictions', { model_name: 'probe', input: { id: Buffer.from('f'), fail: Buffer.from('1') } }));
      expect([refused.code, refused.details]).to.deep.equal([S.FAILED_PRECONDITION, 'request f was told to fail']);
    });

    it('StreamPredictions answers one message and ends', async () => {
      const call = inf.StreamPredictions({ model_name: 'echo', input: { data: Buffer.from('s') } }) as grpc.ClientReadableStream<{ prediction: Buffer }>;
      const got: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        call.on('data', (d) => got.push(d.prediction));
        call.on('error', reject);
        call.on('end', resolve);
      });
      expect(got).to.have.length(1);
      expect(json(got[0]).data.bytes).to.equal(1);
    });

    it('StreamPredictions2 answers each request; a failed one carries its status and the stream goes on', async () => {
      const reqs = [
        { model_name: 'probe', input: { id: Buffer.from('a') }, sequence_id: 'seq-1' },
        { model_name: 'nope', input: {}, sequence_id: 'seq-1' },
        { model_name: 'probe', input: { id: Buffer.from('b') }, sequence_id: 'seq-1' },
      ];
      const answers = await bidi(inf, 'StreamPredictions2', reqs);
      expect(answers).to.have.length(3);
      const failed = answers.filter((a) => a.status);
      expect(failed).to.have.length(1);
      expect(failed[0].status.code).to.equal(S.NOT_FOUND);
      expect(failed[0].status.message).to.equal('Model not found: nope');
      const ok = answers.filter((a) => !a.status);
      expect(ok.map((a) => a.sequence_id)).to.deep.equal(['seq-1', 'seq-1']);
      const seen = ok.map((a) => json(a.prediction).seen.at(-1)).sort();
      expect(seen).to.deep.equal(['a', 'b']);
    });
  });

  describe('ManagementAPIsService', () => {
    it('ListModels and DescribeModel answer the REST JSON', async () => {
      const list = JSON.parse((await unary(mgmt, 'ListModels', {})).msg);
      const rest = await (await fetch(`${server.managementUrl}/models`)).json();
      expect(list).to.deep.equal(rest);
      const page = JSON.parse((await unary(mgmt, 'ListModels', { limit: 1 })).msg);
      expect(page.models).to.have.length(1);
      expect(page.nextPageToken).to.equal('1');
      const described = JSON.parse((await unary(mgmt, 'DescribeModel', { model_name: 'echo' })).msg);
      expect(described).to.deep.equal(await (await fetch(`${server.managementUrl}/models/echo`)).json());
      const err = await failure(unary(mgmt, 'DescribeModel', { model_name: 'nope' }));
      expect([err.code, err.details]).to.deep.equal([S.NOT_FOUND, 'Model not found: nope']);
    });

    it('RegisterModel, ScaleWorker, SetDefault and UnregisterModel with TorchServe texts and codes', async () => {
      expect((await unary(mgmt, 'RegisterModel', { url: 'echo-v2.mar', initial_workers: 1, synchronous: true })).msg).to.equal(
        'Model "echo" Version: 2.0 registered with 1 initial workers',
      );
      const again = await failure(unary(mgmt, 'RegisterModel', { url: 'echo-v2.mar', synchronous: true }));
      expect(again.code).to.equal(S.ABORTED);
      const noUrl = await failure(unary(mgmt, 'RegisterModel', {}));
      expect([noUrl.code, noUrl.details]).to.deep.equal([S.INVALID_ARGUMENT, 'Parameter url is required.']);
      expect((await unary(mgmt, 'ScaleWorker', { model_name: 'echo', model_version: '2.0', min_worker: 2, synchronous: true })).msg).to.equal(
        'Workers scaled to 2 for model: echo, version: 2.0',
      );
      const bad = await failure(unary(mgmt, 'ScaleWorker', { model_name: 'echo', min_worker: 3, max_worker: 2 }));
      expect(bad.code).to.equal(S.INVALID_ARGUMENT);
      expect((await unary(mgmt, 'ScaleWorker', { model_name: 'echo', min_worker: 1 })).msg).to.equal('Processing worker updates...');
      expect((await unary(mgmt, 'SetDefault', { model_name: 'echo', model_version: '2.0' })).msg).to.equal(
        'Default version successfully updated for model "echo" to "2.0"',
      );
      expect(json((await unary(inf, 'Predictions', { model_name: 'echo', input: { data: Buffer.from('a') } })).prediction).version).to.equal('2.0');
      const noVersion = await failure(unary(mgmt, 'SetDefault', { model_name: 'echo', model_version: '7.0' }));
      expect(noVersion.code).to.equal(S.NOT_FOUND);
      await unary(mgmt, 'SetDefault', { model_name: 'echo', model_version: '1.0' });
      expect((await unary(mgmt, 'UnregisterModel', { model_name: 'echo', model_version: '2.0' })).msg).to.equal('Model "echo" unregistered');
      const gone = await failure(unary(mgmt, 'UnregisterModel', { model_name: 'echo', model_version: '2.0' }));
      expect(gone.code).to.equal(S.NOT_FOUND);
    });
  });
});

describe('gRPC management with the model API disabled', function () {
  it('refuses RegisterModel and UnregisterModel with PERMISSION_DENIED, as TorchServe', async () => {
    const store = await TestStore.create();
    await store.add({ name: 'echo', handler: 'echo.js' });
    const server = await startTestServer(store, ['echo.mar'], { enable_model_api: 'false' });
    const mgmt = client('torchserveManagement', server.grpcManagementTarget);
    try {
      const reg = await failure(unary(mgmt, 'RegisterModel', { url: 'echo.mar' }));
      expect(reg.code).to.equal(S.PERMISSION_DENIED);
      expect(reg.details).to.contain('enable_model_api=true');
      expect((await failure(unary(mgmt, 'UnregisterModel', { model_name: 'echo' }))).code).to.equal(S.PERMISSION_DENIED);
      expect(JSON.parse((await unary(mgmt, 'ListModels', {})).msg).models).to.have.length(1);
    } finally {
      close(mgmt);
      await server.stop();
      await store.remove();
    }
  });
});
