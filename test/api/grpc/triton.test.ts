/** Triton's / KServe's `inference.GRPCInferenceService`, driven by a client built from proto/triton. */
import path from 'node:path';
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { LOADER_OPTIONS, PROTO_DIR } from '../../../src/api/grpc/protos.ts';
import type { RunningServer } from '../../../src/server.ts';
import { bidi, client, close, failure, unary, type Client } from '../../helpers/grpc.ts';
import { startTestServer, TestStore } from '../../helpers/server.ts';
import { identity } from '../../helpers/v2-models.ts';

const S = grpc.status;
const f32 = (...v: number[]) => Buffer.from(Float32Array.from(v).buffer);
const floats = (b: Buffer) => Array.from(new Float32Array(new Uint8Array(b).buffer));
const x = (...v: number[]) => ({ name: 'x', datatype: 'FP32', shape: [v.length / 2, 2], contents: { fp32_contents: v } });

describe('gRPC: inference.GRPCInferenceService (Triton, KServe v2)', function () {
  let store: TestStore;
  let server: RunningServer;
  let c: Client;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'id', model: identity('FP32'), handler: 'echo.js' });
    await store.add({ name: 'half', model: identity('FP16'), handler: 'echo.js' });
    await store.add({ name: 'probe', model: identity('FP32'), handler: 'grpc-probe.js', config: 'batchSize: 8\nmaxBatchDelay: 100\n' });
    await store.add({ name: 'spare', model: identity('FP32'), handler: 'echo.js' });
    server = await startTestServer(store, ['id.mar', 'half.mar', 'probe.mar']);
    c = client('triton', server.grpcInferenceTarget);
  });
  after(async () => {
    close(c);
    await server?.stop();
    await store?.remove();
  });

  describe('health and metadata', () => {
    it('ServerLive, ServerReady and ModelReady (an unknown model is not ready, as in Triton)', async () => {
      expect(await unary(c, 'ServerLive', {})).to.deep.equal({ live: true });
      expect(await unary(c, 'ServerReady', {})).to.deep.equal({ ready: true });
      expect(await unary(c, 'ModelReady', { name: 'id' })).to.deep.equal({ ready: true });
      expect(await unary(c, 'ModelReady', { name: 'id', version: '1.0' })).to.deep.equal({ ready: true });
      expect(await unary(c, 'ModelReady', { name: 'nope' })).to.deep.equal({ ready: false });
      const err = await failure(unary(c, 'ModelReady', { name: '' }));
      expect(err.code).to.equal(S.INVALID_ARGUMENT);
    });

    it('ServerMetadata and ModelMetadata, as on REST', async () => {
      const meta = await unary(c, 'ServerMetadata', {});
      const rest = (await (await fetch(`${server.inferenceUrl}/v2`)).json()) as Record<string, unknown>;
      expect(meta).to.deep.equal(rest);
      expect(meta.name).to.equal('modelserver');
      const model = await unary(c, 'ModelMetadata', { name: 'id' });
      expect(model.name).to.equal('id');
      expect(model.versions).to.deep.equal(['1.0']);
      expect(model.platform).to.equal('onnxruntime_onnx');
      expect(model.inputs).to.deep.equal([{ name: 'x', datatype: 'FP32', shape: ['-1', '2'] }]);
      expect(model.outputs).to.deep.equal([{ name: 'y', datatype: 'FP32', shape: ['-1', '2'] }]);
      const err = await failure(unary(c, 'ModelMetadata', { name: 'nope' }));
      expect(err.code).to.equal(S.NOT_FOUND);
      expect(err.details).to.equal('Model not found: nope');
    });
  });

  describe('ModelInfer', () => {
    it('answers typed contents in raw_output_contents, with the model, version and the request id', async () => {
      const res = await unary(c, 'ModelInfer', { model_name: 'id', id: 'req-7', inputs: [x(1, 2, 3, 4)] });
      expect(res.model_name).to.equal('id');
      expect(res.model_version).to.equal('1.0');
      expect(res.id).to.equal('req-7');
      expect(res.outputs).to.deep.equal([{ name: 'y', datatype: 'FP32', shape: ['2', '2'], parameters: {}, contents: null }]);
      expect(floats(res.raw_output_contents[0])).to.deep.equal([1, 2, 3, 4]);
    });

    it('takes raw_input_contents, FP16 included (it has no typed field)', async () => {
      const half = Buffer.from(Uint16Array.of(0x3c00, 0x4000, 0xc200, 0x0000).buffer); // 1, 2, -3, 0
      const res = await unary(c, 'ModelInfer', { model_name: 'half', inputs: [{ name: 'x', datatype: 'FP16', shape: [2, 2] }], raw_input_contents: [half] });
      expect(res.outputs[0].datatype).to.equal('FP16');
      expect(Buffer.from(res.raw_output_contents[0]).equals(half)).to.equal(true);
    });

    it('refuses bad requests with INVALID_ARGUMENT and a message that says what is wrong', async () => {
      const cases: Array<[Record<string, unknown>, number, string]> = [
        [{ inputs: [x(1, 2)] }, S.INVALID_ARGUMENT, '"model_name" is required'],
        [{ model_name: 'nope', inputs: [x(1, 2)] }, S.NOT_FOUND, 'Model not found: nope'],
        [{ model_name: 'id', version: '9', model_version: '9', inputs: [x(1, 2)] }, S.NOT_FOUND, 'Model version: 9 does not exist for model: id'],
        [{ model_name: 'id', inputs: [] }, S.INVALID_ARGUMENT, 'has no inputs'],
        [{ model_name: 'id', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], contents: { int_contents: [1, 2] } }] }, S.INVALID_ARGUMENT, 'datatype FP32 takes contents.fp32_contents, but contents.int_contents was given'],
        [{ model_name: 'id', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], contents: { fp32_contents: [1, 2] } }] }, S.INVALID_ARGUMENT, 'contents.fp32_contents has 2 elements but shape [2,2] needs 4'],
        [{ model_name: 'half', inputs: [{ name: 'x', datatype: 'FP16', shape: [1, 2], contents: { fp32_contents: [1, 2] } }] }, S.INVALID_ARGUMENT, 'FP16 has no typed contents field; send its data in raw_input_contents'],
        [{ model_name: 'id', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2] }], raw_input_contents: [f32(1)] }, S.INVALID_ARGUMENT, 'raw_input_contents[0] has 4 bytes but shape [1,2] of FP32 needs 8'],
        [{ model_name: 'id', inputs: [x(1, 2)], raw_input_contents: [f32(1, 2)] }, S.INVALID_ARGUMENT, 'contents must not be given when the request uses raw_input_contents'],
        [{ model_name: 'id', inputs: [x(1, 2)], raw_input_contents: [f32(1, 2), f32(3, 4)] }, S.INVALID_ARGUMENT, 'raw_input_contents has 2 entries but the request has 1 inputs'],
        [{ model_name: 'id', inputs: [{ ...x(1, 2), name: 'z' }] }, S.INVALID_ARGUMENT, '"z"'],
        [{ model_name: 'id', inputs: [{ ...x(1, 2), datatype: 'INT32', contents: { int_contents: [1, 2] } }] }, S.INVALID_ARGUMENT, 'INT32'],
        [{ model_name: 'id', inputs: [{ ...x(1, 2), datatype: 'BF16' }] }, S.INVALID_ARGUMENT, 'BF16 is not supported'],
        [{ model_name: 'id', inputs: [x(1, 2)], outputs: [{ name: 'nope' }] }, S.INVALID_ARGUMENT, '"nope"'],
      ];
      for (const [req, code, message] of cases) {
        const err = await failure(unary(c, 'ModelInfer', req));
        expect(err.code, `${JSON.stringify(req)}: ${err.details}`).to.equal(code);
        expect(err.details, JSON.stringify(req)).to.contain(message);
      }
      // the server still answers
      expect(floats((await unary(c, 'ModelInfer', { model_name: 'id', inputs: [x(5, 6)] })).raw_output_contents[0])).to.deep.equal([5, 6]);
    });

    it('takes gzip- and deflate-compressed calls (tritonclient compression_algorithm)', async () => {
      for (const algorithm of [1, 2]) { // grpc's compression algorithm ids: 1 deflate, 2 gzip
        const zipped = client('triton', server.grpcInferenceTarget, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': algorithm });
        try {
          const res = await unary(zipped, 'ModelInfer', { model_name: 'id', inputs: [x(9, 8, 7, 6)] });
          expect(floats(res.raw_output_contents[0]), String(algorithm)).to.deep.equal([9, 8, 7, 6]);
        } finally {
          close(zipped);
        }
      }
    });

    it('gives a handler that takes v2 requests its request, and encodes its JSON outputs', async () => {
      const res = await unary(c, 'ModelInfer', { model_name: 'probe', id: 'p1', inputs: [x(1, 2)] });
      expect(res.outputs.map((o: { name: string; datatype: string }) => `${o.name}:${o.datatype}`)).to.deep.equal(['seen:BYTES', 'worker:INT32', 'batch:INT32']);
      const seen = Buffer.from(res.raw_output_contents[0]);
      expect(seen.readUInt32LE(0)).to.equal(2);
      expect(seen.subarray(4, 6).toString()).to.equal('p1');
    });
  });

  describe('ModelStreamInfer', () => {
    it('queues the requests of a stream as they arrive: those behind a busy worker run together in one batch', async () => {
      const reqs = [
        { model_name: 'probe', id: 'first', parameters: { sleep: { int64_param: '400' } }, inputs: [x(1, 2)] },
        ...Array.from({ length: 5 }, (_, i) => ({ model_name: 'probe', id: `then${i}`, inputs: [x(1, 2)] })),
      ];
      const answers = await bidi(c, 'ModelStreamInfer', reqs);
      expect(answers.map((a) => a.error_message)).to.deep.equal(['', '', '', '', '', '']);
      const batchOf = (a: Record<string, any>) => // eslint-disable-line @typescript-eslint/no-explicit-any
        Buffer.from(a.infer_response.raw_output_contents[2]).readInt32LE(0);
      const later = answers.filter((a) => a.infer_response.id !== 'first').map(batchOf);
      expect(Math.max(...later), `batch sizes ${later}`).to.be.greaterThan(1);
    });

    it('answers every request of a stream with several in flight, each once, errors in the stream', async () => {
      const reqs = Array.from({ length: 12 }, (_, i) =>
        i === 5 ? { model_name: 'nope', id: 'bad', inputs: [x(0, 0)] } : { model_name: 'id', id: `s${i}`, inputs: [x(i, -i)] },
      );
      const answers = await bidi(c, 'ModelStreamInfer', reqs);
      expect(answers).to.have.length(12);
      const failed = answers.filter((a) => a.error_message !== '');
      expect(failed.map((a) => a.error_message)).to.deep.equal(['Model not found: nope']);
      const ok = answers.filter((a) => a.error_message === '').map((a) => a.infer_response);
      expect(ok.map((r) => r.id).sort()).to.deep.equal(reqs.filter((r) => r.id !== 'bad').map((r) => r.id).sort());
      for (const r of ok) {
        const i = Number(r.id.slice(1));
        expect(floats(r.raw_output_contents[0]), r.id).to.deep.equal([i, -i]);
      }
    });
  });

  describe('model configuration and statistics', () => {
    /** A REST JSON body read as the gRPC client reads the same message (fromObject, then toObject as proto-loader). */
    const asGrpcReads = (type: string, json: unknown) => {
      const root = new protobuf.Root();
      root.resolvePath = (_origin, target) => path.join(PROTO_DIR, 'triton', path.basename(target));
      root.loadSync(path.join(PROTO_DIR, 'triton', 'grpc_service.proto'), { keepCase: true });
      const t = root.lookupType(type);
      return t.toObject(t.fromObject(json as object), LOADER_OPTIONS as protobuf.IConversionOptions);
    };

    it('ModelConfig answers the same configuration as GET /v2/models/{m}/config', async () => {
      const res = await unary(c, 'ModelConfig', { name: 'id' });
      const rest = await (await fetch(`${server.inferenceUrl}/v2/models/id/config`)).json();
      expect(res.config).to.deep.equal(asGrpcReads('inference.ModelConfig', rest));
      expect(res.config.name).to.equal('id');
      expect(res.config.platform).to.equal('onnxruntime_onnx');
      expect(res.config.input.map((i: { name: string; data_type: string }) => `${i.name}:${i.data_type}`)).to.deep.equal(['x:TYPE_FP32']);
      const err = await failure(unary(c, 'ModelConfig', { name: 'nope' }));
      expect([err.code, err.details]).to.deep.equal([S.NOT_FOUND, 'Model not found: nope']);
    });

    it('ModelStatistics counts gRPC requests, as GET /v2/models/{m}/stats', async () => {
      const before = await unary(c, 'ModelStatistics', { name: 'id' });
      await unary(c, 'ModelInfer', { model_name: 'id', inputs: [x(1, 2)] });
      const after = await unary(c, 'ModelStatistics', { name: 'id', version: '1.0' });
      expect(after.model_stats).to.have.length(1);
      const [b, a] = [before.model_stats[0], after.model_stats[0]];
      expect(Number(a.inference_count) - Number(b.inference_count)).to.equal(1);
      expect(Number(a.inference_stats.success.count) - Number(b.inference_stats.success.count)).to.equal(1);
      const rest = await (await fetch(`${server.inferenceUrl}/v2/models/id/stats`)).json();
      expect(after).to.deep.equal(asGrpcReads('inference.ModelStatisticsResponse', rest));
      const all = await unary(c, 'ModelStatistics', {});
      expect(all.model_stats.map((m: { name: string }) => m.name)).to.include.members(['id', 'half', 'probe']);
      const err = await failure(unary(c, 'ModelStatistics', { name: 'nope' }));
      expect(err.code).to.equal(S.INVALID_ARGUMENT);
      expect(err.details).to.contain("'nope'");
    });
  });

  describe('what is not implemented', () => {
    it('answers shared memory, trace and log settings with UNIMPLEMENTED and a message', async () => {
      for (const m of ['SystemSharedMemoryStatus', 'SystemSharedMemoryRegister', 'CudaSharedMemoryRegister', 'CudaSharedMemoryStatus', 'TraceSetting', 'LogSettings']) {
        const err = await failure(unary(c, m, {}));
        expect(err.code, m).to.equal(S.UNIMPLEMENTED);
        expect(err.details, m).to.contain(`${m} is not supported by modelserver`);
      }
    });
  });

  describe('the model repository', () => {
    it('RepositoryIndex lists loaded models and store archives not loaded', async () => {
      const { models } = await unary(c, 'RepositoryIndex', {});
      expect(models).to.deep.include({ name: 'id', version: '1.0', state: 'READY', reason: '' });
      expect(models).to.deep.include({ name: 'spare', version: '', state: 'UNAVAILABLE', reason: 'unloaded' });
      const ready = await unary(c, 'RepositoryIndex', { ready: true });
      expect(ready.models.map((m: { name: string }) => m.name)).to.not.include('spare');
      const err = await failure(unary(c, 'RepositoryIndex', { repository_name: 'other' }));
      expect(err.code).to.equal(S.INVALID_ARGUMENT);
    });

    it('RepositoryModelLoad and RepositoryModelUnload', async () => {
      expect(await unary(c, 'RepositoryModelLoad', { model_name: 'spare' })).to.deep.equal({});
      expect(await unary(c, 'ModelReady', { name: 'spare' })).to.deep.equal({ ready: true });
      expect(floats((await unary(c, 'ModelInfer', { model_name: 'spare', inputs: [x(7, 8)] })).raw_output_contents[0])).to.deep.equal([7, 8]);
      expect(await unary(c, 'RepositoryModelUnload', { model_name: 'spare' })).to.deep.equal({});
      expect(await unary(c, 'ModelReady', { name: 'spare' })).to.deep.equal({ ready: false });
      const missing = await failure(unary(c, 'RepositoryModelLoad', { model_name: 'absent' }));
      expect(missing.code).to.equal(S.NOT_FOUND);
      expect(missing.details).to.contain('not in the model store');
      const refused = await failure(unary(c, 'RepositoryModelLoad', { model_name: 'spare', parameters: { config: { string_param: '{}' } } }));
      expect(refused.code).to.equal(S.INVALID_ARGUMENT);
      expect(refused.details).to.contain('config');
      expect((await failure(unary(c, 'RepositoryModelUnload', { model_name: 'absent' }))).code).to.equal(S.NOT_FOUND);
    });
  });
});
