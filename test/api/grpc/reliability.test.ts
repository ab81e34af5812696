/**
 * gRPC under the server's rules: a client deadline that passes while the request is queued (it is answered
 * DEADLINE_EXCEEDED and never run), a worker that dies in the middle of a stream, message limits from
 * max_request_size / max_response_size, a graceful stop that lets gRPC calls finish, and the access log and
 * metrics counting gRPC requests.
 */
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import type { RunningServer } from '../../../src/server.ts';
import { client, close, failure, unary, type Client } from '../../helpers/grpc.ts';
import { startTestServer, TestStore } from '../../helpers/server.ts';
import { identity } from '../../helpers/v2-models.ts';
import { scrape, startCapturedServer, value, type CapturedServer } from '../../metrics/helpers.ts';

const S = grpc.status;
const x = (...v: number[]) => ({ name: 'x', datatype: 'FP32', shape: [v.length / 2, 2], contents: { fp32_contents: v } });
const int = (n: number) => ({ int64_param: String(n) });
const seenOf = (res: Record<string, any>): string[] => { // eslint-disable-line @typescript-eslint/no-explicit-any
  const b = Buffer.from(res.raw_output_contents[0]);
  const out: string[] = [];
  for (let at = 0; at < b.length; ) {
    const n = b.readUInt32LE(at);
    out.push(b.subarray(at + 4, at + 4 + n).toString());
    at += 4 + n;
  }
  return out;
};

/** A stream the test drives one request at a time. */
function interactive(c: Client, method: string) {
  const call = c[method]() as grpc.ClientDuplexStream<unknown, Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const queue: Array<Record<string, any>> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  const waiting: Array<(v: Record<string, any>) => void> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  call.on('data', (d) => (waiting.length ? waiting.shift()!(d) : queue.push(d)));
  return {
    ask(req: unknown): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
      call.write(req);
      return new Promise((resolve) => (queue.length ? resolve(queue.shift()!) : waiting.push(resolve)));
    },
    end(): Promise<void> {
      return new Promise((resolve, reject) => {
        call.on('end', resolve);
        call.on('error', reject);
        call.end();
      });
    },
  };
}

describe('gRPC reliability', function () {
  let store: TestStore;
  let captured: CapturedServer;
  let server: RunningServer;
  let c: Client;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'probe', model: identity('FP32'), handler: 'grpc-probe.js' });
    await store.add({ name: 'id', model: identity('FP32', ['N', 'K']), handler: 'echo.js' });
    captured = await startCapturedServer(store, ['probe.mar', 'id.mar'], { max_request_size: '16384', max_response_size: '4096' });
    server = captured.server;
    c = client('triton', server.grpcInferenceTarget);
  });
  after(async () => {
    close(c);
    await server?.stop();
    await store?.remove();
  });

  it('a deadline that passes in the queue: DEADLINE_EXCEEDED, and the request is never run', async () => {
    const busy = unary(c, 'ModelInfer', { model_name: 'probe', id: 'busy', parameters: { sleep: int(1500) }, inputs: [x(1, 2)] });
    await new Promise((r) => setTimeout(r, 200)); // the one worker has the busy request now
    const late = await failure(unary(c, 'ModelInfer', { model_name: 'probe', id: 'late', inputs: [x(1, 2)] }, { deadlineMs: 300 }));
    expect(late.code).to.equal(S.DEADLINE_EXCEEDED);
    expect(seenOf(await busy)).to.not.include('late');
    const after = seenOf(await unary(c, 'ModelInfer', { model_name: 'probe', id: 'after', inputs: [x(1, 2)] }));
    expect(after).to.include('busy');
    expect(after).to.include('after');
    expect(after, 'the expired request ran').to.not.include('late');
  });

  it('a worker that dies in the middle of a stream: that request fails in the stream, the stream goes on', async () => {
    const s = interactive(c, 'ModelStreamInfer');
    const first = await s.ask({ model_name: 'probe', id: 'k1', inputs: [x(1, 2)] });
    expect(first.error_message).to.equal('');
    const died = await s.ask({ model_name: 'probe', id: 'dies', parameters: { die: { bool_param: true } }, inputs: [x(1, 2)] });
    expect(died.error_message).to.match(/probe/);
    expect(died.infer_response).to.equal(null);
    const next = await s.ask({ model_name: 'probe', id: 'k2', inputs: [x(1, 2)] });
    expect(next.error_message).to.equal('');
    expect(next.infer_response.id).to.equal('k2');
    await s.end();
  });

  it('max_request_size and max_response_size are the gRPC message limits (RESOURCE_EXHAUSTED)', async () => {
    const big = Buffer.alloc(32 * 1024);
    const tooBig = await failure(unary(c, 'ModelInfer', { model_name: 'id', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 8192] }], raw_input_contents: [big] }));
    expect(tooBig.code).to.equal(S.RESOURCE_EXHAUSTED);
    // a request under max_request_size whose answer (the same 5000 bytes) is over max_response_size
    const wide = Buffer.alloc(5000);
    const answer = await failure(unary(c, 'ModelInfer', { model_name: 'id', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1250] }], raw_input_contents: [wide] }));
    expect(answer.code).to.equal(S.RESOURCE_EXHAUSTED);
    const small = await unary(c, 'ModelInfer', { model_name: 'id', inputs: [x(1, 2)] });
    expect(small.outputs).to.have.length(1);
  });

  it('counts gRPC requests in the metrics and writes one access-log line per request', async () => {
    const before = value(await scrape(server), 'ts_inference_requests_total', { model_name: 'id' }) ?? 0;
    await unary(c, 'ModelInfer', { model_name: 'id', inputs: [x(3, 4)] }, { metadata: { 'x-request-id': 'grpc-req-1' } });
    expect(value(await scrape(server), 'ts_inference_requests_total', { model_name: 'id' })).to.equal(before + 1);
    const line = captured.lines().find((l) => l.component === 'access' && l.requestId === 'grpc-req-1');
    expect(line).to.include({ method: 'GRPC', path: '/inference.GRPCInferenceService/ModelInfer', status: 200, grpcCode: 'OK', model: 'id', version: '1.0', batchSize: 1 });
    await failure(unary(c, 'ModelInfer', { model_name: 'nope', inputs: [x(3, 4)] }, { metadata: { 'x-request-id': 'grpc-req-2' } }));
    const refused = captured.lines().find((l) => l.component === 'access' && l.requestId === 'grpc-req-2');
    expect(refused).to.include({ status: 404, grpcCode: 'NOT_FOUND' });
  });
});

describe('gRPC graceful stop', function () {
  it('lets a call in flight finish, then refuses new ones; health turns NOT_SERVING', async () => {
    const store = await TestStore.create();
    await store.add({ name: 'probe', model: identity('FP32'), handler: 'grpc-probe.js' });
    const server = await startTestServer(store, ['probe.mar']);
    const c = client('triton', server.grpcInferenceTarget);
    const health = client('health', server.grpcInferenceTarget);
    try {
      const inFlight = unary(c, 'ModelInfer', { model_name: 'probe', id: 'slow', parameters: { sleep: int(800) }, inputs: [x(1, 2)] });
      await new Promise((r) => setTimeout(r, 200));
      const stopped = server.stop();
      await new Promise((r) => setTimeout(r, 50));
      expect((await unary(health, 'Check', { service: '' })).status).to.equal('NOT_SERVING');
      const refused = await failure(unary(c, 'ModelInfer', { model_name: 'probe', inputs: [x(1, 2)] }));
      expect(refused.code).to.equal(S.UNAVAILABLE);
      expect(seenOf(await inFlight)).to.include('slow');
      await stopped;
    } finally {
      close(c, health);
      await server.stop();
      await store.remove();
    }
  });
});

describe('gRPC graceful stop with an open stream', function () {
  it('does not wait for a stream with nothing pending; the stream is ended by the stop', async () => {
    const store = await TestStore.create();
    await store.add({ name: 'probe', model: identity('FP32'), handler: 'grpc-probe.js' });
    // a drain bound longer than the test's own timeout: were the idle stream waited for, this test would fail
    const server = await startTestServer(store, ['probe.mar'], {}, { drainTimeoutMs: 120_000 });
    const c = client('triton', server.grpcInferenceTarget);
    try {
      const call = c.ModelStreamInfer() as grpc.ClientDuplexStream<unknown, Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const closed = new Promise<string>((resolve) => {
        call.on('error', (e: grpc.ServiceError) => resolve(grpc.status[e.code]));
        call.on('end', () => resolve('end'));
      });
      const first = new Promise<Record<string, any>>((resolve) => call.once('data', resolve)); // eslint-disable-line @typescript-eslint/no-explicit-any
      call.write({ model_name: 'probe', id: 'one', inputs: [x(1, 2)] });
      expect((await first).error_message).to.equal('');
      await server.stop();
      expect(await closed).to.be.oneOf(['end', 'CANCELLED', 'UNAVAILABLE']);
    } finally {
      close(c);
      await server.stop();
      await store.remove();
    }
  });
});
