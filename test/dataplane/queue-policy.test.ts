import { expect } from 'chai';
import onnxProto from 'onnx-proto';
import path from 'node:path';
import type { RunningServer } from '../../src/server.ts';
import { writeRepository } from '../helpers/repository.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const { onnx } = onnxProto;
const WIDTH = 512;
const STEPS = 20;

/** `x` FP32 [N,512] → 20 MatMuls with one 512×512 matrix (scaled identity) → `y`: time grows with N. */
function slowModel(): Uint8Array {
  const w = new Float32Array(WIDTH * WIDTH);
  for (let i = 0; i < WIDTH; i++) w[i * WIDTH + i] = 1;
  const nodes = Array.from({ length: STEPS }, (_, i) => ({
    opType: 'MatMul',
    input: [i === 0 ? 'x' : `h${i}`, 'w'],
    output: [i === STEPS - 1 ? 'y' : `h${i + 1}`],
    name: `mm${i}`,
  }));
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: WIDTH }] } } } });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'slow',
        input: [vi('x')],
        output: [vi('y')],
        initializer: [{ name: 'w', dims: [WIDTH, WIDTH], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(w.buffer) }],
        node: nodes,
      },
    }),
  ).finish();
}

const policy = (p: string) => `max_batch_size: 0\ndynamic_batching { default_queue_policy { ${p} } }\ninstance_group [{ count: 1, kind: KIND_CPU }]`;

async function infer(server: RunningServer, model: string, rows: number, parameters?: Record<string, unknown>) {
  const res = await fetch(`${server.inferenceUrl}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...(parameters && { parameters }), inputs: [{ name: 'x', shape: [rows, WIDTH], datatype: 'FP32', data: new Array(rows * WIDTH).fill(1) }] }),
  });
  return { status: res.status, json: (await res.json()) as { error?: string; outputs?: unknown[] } };
}

/** Sends the busy request and resolves once a worker runs it (modelserver_requests_in_flight), with its answer to come. */
async function busyWith(server: RunningServer, model: string): Promise<{ answer: ReturnType<typeof infer> }> {
  const answer = infer(server, model, 512);
  const line = `modelserver_requests_in_flight{model_name="${model}",model_version="1"} 1`;
  for (;;) {
    const text = await (await fetch(`${server.metricsUrl}/metrics?name[]=modelserver_requests_in_flight`)).text();
    if (text.includes(line)) return { answer };
    await new Promise((r) => setTimeout(r, 5));
  }
}

// The first request keeps the only worker busy for a few hundred milliseconds (more on a loaded machine); the
// ones sent right after it wait in the queue far longer than the timeouts below.
describe("Triton's queue policy: default_timeout_microseconds, allow_timeout_override, timeout_action", function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    const model = slowModel();
    const repo = await writeRepository(path.join(path.dirname(store.dir), 'repo'), {
      reject: { config: policy('default_timeout_microseconds: 50000'), versions: { '1': model } },
      override: { config: policy('default_timeout_microseconds: 600000000 allow_timeout_override: true'), versions: { '1': model } },
      fixed: { config: policy('default_timeout_microseconds: 600000000'), versions: { '1': model } },
      delay: { config: policy('default_timeout_microseconds: 20000 timeout_action: DELAY'), versions: { '1': model } },
    });
    server = await startTestServer(store, [], { model_repository: repo });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it("answers a request still queued at the model's timeout 503 with Triton's text; the running one finishes", async () => {
    const { answer } = await busyWith(server, 'reject');
    const [busy, late] = await Promise.all([answer, infer(server, 'reject', 1)]);
    expect(busy.status).to.equal(200);
    expect(late).to.deep.equal({ status: 503, json: { error: 'Request timeout expired' } });
    const stats = (await (await fetch(`${server.inferenceUrl}/v2/models/reject/stats`)).json()) as { model_stats: Array<{ inference_stats: { fail: { count: number } } }> };
    expect(stats.model_stats[0].inference_stats.fail.count).to.equal(1);
  });

  it("takes the request's shorter timeout parameter (µs) only with allow_timeout_override", async () => {
    const running = await busyWith(server, 'override');
    const [busy, late, patient] = await Promise.all([
      running.answer,
      infer(server, 'override', 1, { timeout: 20000 }),
      infer(server, 'override', 1),
    ]);
    expect(busy.status).to.equal(200);
    expect(late).to.deep.equal({ status: 503, json: { error: 'Request timeout expired' } });
    expect(patient.status).to.equal(200);
    const fixed = await busyWith(server, 'fixed');
    const [b2, ignored] = await Promise.all([fixed.answer, infer(server, 'fixed', 1, { timeout: 20000 })]);
    expect(b2.status).to.equal(200);
    expect(ignored.status).to.equal(200);
  });

  it('keeps timed-out requests with timeout_action DELAY and answers them all', async () => {
    const { answer } = await busyWith(server, 'delay');
    const answers = await Promise.all([answer, infer(server, 'delay', 1), infer(server, 'delay', 2)]);
    expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200]);
  });

  it('refuses a timeout parameter that is not a whole number of microseconds', async () => {
    expect(await infer(server, 'override', 1, { timeout: 'soon' })).to.deep.equal({
      status: 400,
      json: { error: 'the request parameter "timeout" must be a whole number of microseconds ≥ 0, got "soon"' },
    });
  });
});
