import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import TensorHandler from '../../handlers/tensor.ts';
import type { RequestInput } from '../../src/handler/contract.ts';
import { addOne, colorsClassifier, mlp, twoInputs } from '../../scripts/lib/onnx-models.ts';
import { makeHandlerContext, type TestHandlerContext } from '../helpers/handler-context.ts';

function request(data: unknown): RequestInput {
  return { data, body: data, fields: {}, headers: {}, query: {}, contentType: 'application/json', requestId: 'r' };
}
type Err = Error & { status: number };

/** Wraps ctx.session.run to count runs and record the batch size of each. */
function countRuns(ctx: TestHandlerContext): number[][] {
  const calls: number[][] = [];
  const session = ctx.session!;
  const run = session.run.bind(session);
  (session as { run: unknown }).run = (feeds: Record<string, { dims: readonly number[] }>, ...rest: unknown[]) => {
    calls.push(Object.values(feeds).map((t) => t.dims[0]));
    return (run as (...a: unknown[]) => unknown)(feeds, ...rest);
  };
  return calls;
}

describe('handlers/tensor', () => {
  let dir: string;
  const contexts: TestHandlerContext[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tensor-handler-'));
    for (const [name, bytes] of [['add_one', addOne()], ['two_inputs', twoInputs()], ['mlp', mlp({ inputs: 3, outputs: 2 })], ['colors_dynamic', colorsClassifier({ size: null })]] as const) {
      await mkdir(path.join(dir, name));
      await writeFile(path.join(dir, name, 'model.onnx'), bytes);
    }
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.dispose()));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(model: 'add_one' | 'two_inputs' | 'mlp' | 'colors_dynamic'): Promise<{ handler: TensorHandler; ctx: TestHandlerContext }> {
    const ctx = await makeHandlerContext({ modelDir: path.join(dir, model), serializedFile: 'model.onnx' });
    contexts.push(ctx);
    const handler = new TensorHandler();
    handler.initialize(ctx);
    return { handler, ctx };
  }

  describe('request forms', () => {
    it('takes {"inputs": {name: nested array}}', async () => {
      const { handler, ctx } = await setup('add_one');
      const [r] = await handler.handle([request({ inputs: { x: [[1, 2, 3, 4], [5, 6, 7, 8]] } })], ctx);
      expect(r).to.deep.equal({ outputs: { y: [[2, 3, 4, 5], [6, 7, 8, 9]] } });
    });

    it('takes a bare nested array for a single-input model', async () => {
      const { handler, ctx } = await setup('add_one');
      const [r] = await handler.handle([request([[0, 0.5, -1, 10]])], ctx);
      expect(r).to.deep.equal({ outputs: { y: [[1, 1.5, 0, 11]] } });
    });

    it('takes the flat form {data, shape, datatype}', async () => {
      const { handler, ctx } = await setup('add_one');
      const results = await handler.handle(
        [
          request({ inputs: { x: { data: [1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 4], datatype: 'FP32' } } }),
          request({ data: [1, 1, 1, 1], shape: [1, 4] }),
        ],
        ctx,
      );
      expect(results[0]).to.deep.equal({ outputs: { y: [[2, 3, 4, 5], [6, 7, 8, 9]] } });
      expect(results[1]).to.deep.equal({ outputs: { y: [[2, 2, 2, 2]] } });
    });

    it('takes JSON as a string or as bytes', async () => {
      const { handler, ctx } = await setup('add_one');
      const json = JSON.stringify({ inputs: { x: [[1, 2, 3, 4]] } });
      const results = await handler.handle([request(json), request(new TextEncoder().encode(json))], ctx);
      for (const r of results) expect(r).to.deep.equal({ outputs: { y: [[2, 3, 4, 5]] } });
    });

    it('runs a two-input, two-output model', async () => {
      const { handler, ctx } = await setup('two_inputs');
      const [r] = await handler.handle([request({ inputs: { a: [[1, 2, 3]], b: { data: [4, 5, 6], shape: [1, 3] } } })], ctx);
      expect(r).to.deep.equal({ outputs: { sum: [[5, 7, 9]], prod: [[4, 10, 18]] } });
    });
  });

  describe('batching', () => {
    it('concatenates same-shape requests into one run and splits the outputs back', async () => {
      const { handler, ctx } = await setup('two_inputs');
      const runs = countRuns(ctx);
      const results = await handler.handle(
        [
          request({ inputs: { a: [[1, 1, 1]], b: [[2, 2, 2]] } }),
          request({ inputs: { a: [[1, 2, 3], [4, 5, 6]], b: [[1, 1, 1], [2, 2, 2]] } }),
          request({ inputs: { a: [[0, 0, 0]], b: [[9, 9, 9]] } }),
        ],
        ctx,
      );
      expect(runs).to.deep.equal([[4, 4]]);
      expect(results).to.deep.equal([
        { outputs: { sum: [[3, 3, 3]], prod: [[2, 2, 2]] } },
        { outputs: { sum: [[2, 3, 4], [6, 7, 8]], prod: [[1, 2, 3], [8, 10, 12]] } },
        { outputs: { sum: [[9, 9, 9]], prod: [[0, 0, 0]] } },
      ]);
    });

    it('matches the unbatched results of the MLP', async () => {
      const { handler, ctx } = await setup('mlp');
      const rows = [[0.1, 0.2, 0.3], [1, -1, 0.5], [-2, 0, 2]];
      const single = await Promise.all(rows.map(async (row) => (await handler.handle([request([row])], ctx))[0]));
      const runs = countRuns(ctx);
      const batched = await handler.handle(rows.map((row) => request([row])), ctx);
      expect(runs).to.have.length(1);
      expect(batched).to.deep.equal(single);
    });

    it('runs requests of different shapes separately', async () => {
      // The colours classifier with dynamic H and W: [N,3,H,W] → [N,3] (the mean of each channel, times 4).
      const { handler, ctx } = await setup('colors_dynamic');
      const runs = countRuns(ctx);
      const image = (n: number, side: number, rgb: number[]) =>
        Array.from({ length: n }, () => rgb.map((v) => Array.from({ length: side }, () => new Array(side).fill(v))));
      const results = await handler.handle(
        [
          request(image(1, 2, [1, 0, 0])),
          request(image(2, 3, [0, 1, 0])),
          request(image(1, 2, [0, 0, 1])),
          request({ data: new Array(3 * 3 * 3).fill(0.5), shape: [1, 3, 3, 3] }),
        ],
        ctx,
      );
      expect(runs.map((r) => r[0]).sort()).to.deep.equal([2, 3]); // 2×2 images: 1 + 1 rows; 3×3: 2 + 1 rows
      expect(results).to.deep.equal([
        { outputs: { output: [[4, 0, 0]] } },
        { outputs: { output: [[0, 4, 0], [0, 4, 0]] } },
        { outputs: { output: [[0, 0, 4]] } },
        { outputs: { output: [[2, 2, 2]] } },
      ]);
    });

    it('runs a request alone when its inputs differ in dim 0', async () => {
      const { handler, ctx } = await setup('two_inputs');
      const runs = countRuns(ctx);
      const results = await handler.handle(
        [
          request({ inputs: { a: [[1, 2, 3]], b: [[1, 1, 1]] } }),
          request({ inputs: { a: [[1, 2, 3]], b: [[1, 1, 1], [2, 2, 2]] } }), // broadcasts inside the model
          request({ inputs: { a: [[1, 1, 1]], b: [[1, 1, 1]] } }),
        ],
        ctx,
      );
      expect(runs).to.deep.equal([[2, 2], [1, 2]]);
      expect(results[0]).to.deep.equal({ outputs: { sum: [[2, 3, 4]], prod: [[1, 2, 3]] } });
      expect(results[1]).to.deep.equal({ outputs: { sum: [[2, 3, 4], [3, 4, 5]], prod: [[1, 2, 3], [2, 4, 6]] } });
      expect(results[2]).to.deep.equal({ outputs: { sum: [[2, 2, 2]], prod: [[1, 1, 1]] } });
    });
  });

  describe('bad input gets a 400 in its own slot', () => {
    const cases: Array<[string, 'add_one' | 'two_inputs', unknown, RegExp]> = [
      ['a missing input', 'two_inputs', { inputs: { a: [[1, 2, 3]] } }, /missing input "b": expected float32 \[N,3\]/],
      ['an unknown input', 'two_inputs', { inputs: { a: [[1, 2, 3]], b: [[1, 2, 3]], c: [[1]] } }, /unknown input "c".*a, b/],
      ['the wrong rank', 'add_one', { inputs: { x: [1, 2, 3, 4] } }, /input "x": expected float32 \[N,4\] \(rank 2, got rank 1\)/],
      ['a wrong fixed dimension', 'add_one', { inputs: { x: [[1, 2, 3]] } }, /input "x": expected float32 \[N,4\], got shape \[1,3\]/],
      ['a non-numeric element', 'add_one', { inputs: { x: [[1, 2, 'abc', 4]] } }, /input "x": element \[0,2\] is the string "abc", expected float32/],
      ['NaN', 'add_one', { inputs: { x: [[1, 2, 3, NaN]] } }, /input "x": element \[0,3\] is NaN/],
      ['null', 'add_one', { inputs: { x: [[1, null, 3, 4]] } }, /element \[0,1\] is null/],
      ['a ragged array', 'add_one', { inputs: { x: [[1, 2, 3, 4], [1, 2]] } }, /input "x": ragged array at \[1\]: expected 4 elements, got 2/],
      ['data not matching shape', 'add_one', { inputs: { x: { data: [1, 2, 3], shape: [1, 4] } } }, /input "x": shape \[1,4\] needs 4 values, "data" has 3/],
      ['a bad shape', 'add_one', { inputs: { x: { data: [1, 2, 3, 4], shape: [1, -4] } } }, /input "x": "shape" must be an array of non-negative integers/],
      ['a wrong datatype', 'add_one', { inputs: { x: { data: [1, 2, 3, 4], shape: [1, 4], datatype: 'INT64' } } }, /input "x": datatype "INT64" does not match the model's float32/],
      ['an object without data', 'add_one', { inputs: { x: { values: [1] } } }, /input "x": expected a nested array or \{"data"/],
      ['a bare array for a two-input model', 'two_inputs', [[1, 2, 3]], /expected \{"inputs": \{"a": \[\.\.\.\], "b": \[\.\.\.\]\}\}/],
      ['a string that is not JSON', 'add_one', 'not json', /not JSON/],
    ];
    for (const [what, model, body, message] of cases) {
      it(what, async () => {
        const { handler, ctx } = await setup(model);
        const good = model === 'add_one' ? { inputs: { x: [[1, 2, 3, 4]] } } : { inputs: { a: [[1, 2, 3]], b: [[1, 1, 1]] } };
        const results = await handler.handle([request(good), request(body), request(good)], ctx);
        const err = results[1] as Err;
        expect(err).to.be.instanceOf(ctx.HandlerError);
        expect(err.status).to.equal(400);
        expect(err.message).to.match(message);
        expect(results[0]).to.have.property('outputs');
        expect(results[2]).to.deep.equal(results[0]);
      });
    }

    it('an input the model rejects at run time', async () => {
      const { handler, ctx } = await setup('two_inputs');
      const results = await handler.handle(
        [request({ inputs: { a: [[1, 2, 3]], b: [[1, 1, 1]] } }), request({ inputs: { a: [[1, 2, 3]], b: [[1, 2, 3], [4, 5, 6], [7, 8, 9]] } })],
        ctx,
      );
      expect(results[0]).to.deep.equal({ outputs: { sum: [[2, 3, 4]], prod: [[1, 2, 3]] } });
      // a [1,3] and b [3,3] broadcast; the request differs in dim 0 between inputs, so it runs alone.
      expect(results[1]).to.have.property('outputs');
      const bad = await handler.handle([request({ inputs: { a: [[1, 2, 3], [1, 2, 3]], b: { data: [1, 2, 3, 4, 5, 6, 7, 8, 9], shape: [3, 3] } } })], ctx);
      expect((bad[0] as Err).status).to.equal(400);
      expect((bad[0] as Err).message).to.match(/the model rejected the input/);
    });
  });

  describe('element types', () => {
    it('converts int64, int32, uint8, int8, bool and float64 leaves, and refuses out-of-range values', async () => {
      // No built model takes these types, so exercise the conversion through a hand-made session description.
      const { handler, ctx } = await setup('add_one');
      const h = handler as unknown as { inputs: Array<{ name: string; type: string; shape: unknown }> };
      const parse = (type: string, value: unknown) => {
        h.inputs = [{ name: 'x', type, shape: null }];
        return (handler as unknown as { parseRequest(r: RequestInput): Record<string, { data: unknown; shape: number[] }> })
          .parseRequest(request({ inputs: { x: value } })).x;
      };
      expect(Array.from(parse('int64', [1, '9007199254740993', -3]).data as BigInt64Array)).to.deep.equal([1n, 9007199254740993n, -3n]);
      expect(Array.from(parse('int32', [[1], [-2]]).data as Int32Array)).to.deep.equal([1, -2]);
      expect(Array.from(parse('uint8', [0, 255]).data as Uint8Array)).to.deep.equal([0, 255]);
      expect(Array.from(parse('int8', [-128, 127]).data as Int8Array)).to.deep.equal([-128, 127]);
      expect(Array.from(parse('bool', [true, false, 1]).data as Uint8Array)).to.deep.equal([1, 0, 1]);
      expect(Array.from(parse('float64', [0.1]).data as Float64Array)).to.deep.equal([0.1]);
      expect(() => parse('uint8', [256])).to.throw(/element \[0\] is 256, expected uint8/);
      expect(() => parse('int32', [1.5])).to.throw(/expected int32/);
      expect(() => parse('bool', ['yes'])).to.throw(/expected bool/);
      expect(parse('float32', 7).shape).to.deep.equal([]);
    });
  });
});
