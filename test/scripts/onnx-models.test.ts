import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { addOne, colorsClassifier, colorsLabels, mlp, resnet18Shaped, seededRandom, twoInputs } from '../../scripts/lib/onnx-models.ts';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** A solid [N,3,size,size] batch of ImageNet-normalised colours. */
function solidBatch(colours: Array<[number, number, number]>, size: number): ort.Tensor {
  const plane = size * size;
  const data = new Float32Array(colours.length * 3 * plane);
  colours.forEach((rgb, n) => {
    for (let c = 0; c < 3; c++) data.fill((rgb[c] / 255 - MEAN[c]) / STD[c], (n * 3 + c) * plane, (n * 3 + c + 1) * plane);
  });
  return new ort.Tensor('float32', data, [colours.length, 3, size, size]);
}

function softmaxRow(data: Float32Array, row: number, n: number): number[] {
  const xs = Array.from(data.subarray(row * n, row * n + n));
  const max = Math.max(...xs);
  const exps = xs.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

describe('scripts/lib/onnx-models', () => {
  const sessions: ort.InferenceSession[] = [];
  const open = async (bytes: Uint8Array) => {
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    sessions.push(s);
    return s;
  };
  after(async () => {
    await Promise.all(sessions.map((s) => s.release()));
  });

  describe('colorsClassifier', () => {
    it('declares input [N,3,224,224] and output [N,3]', async () => {
      const s = await open(colorsClassifier());
      expect(s.inputNames).to.deep.equal(['input']);
      expect(s.outputNames).to.deep.equal(['output']);
      expect(s.inputMetadata[0]).to.include({ isTensor: true, type: 'float32' });
      expect((s.inputMetadata[0] as { shape: unknown }).shape).to.deep.equal(['N', 3, 224, 224]);
      expect((s.outputMetadata[0] as { shape: unknown }).shape).to.deep.equal(['N', 3]);
    });

    it('classifies pure red, green and blue with probability > 0.9 (batch 5)', async () => {
      const s = await open(colorsClassifier());
      const colours: Array<[number, number, number]> = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 255], [255, 0, 0]];
      const out = (await s.run({ input: solidBatch(colours, 224) })).output;
      expect(out.dims).to.deep.equal([5, 3]);
      const expected = [0, 1, 2, 2, 0];
      expected.forEach((cls, row) => {
        const p = softmaxRow(out.data as Float32Array, row, 3);
        expect(p.indexOf(Math.max(...p))).to.equal(cls);
        expect(p[cls]).to.be.greaterThan(0.9);
      });
    });

    it('runs with batch 1', async () => {
      const s = await open(colorsClassifier());
      const out = (await s.run({ input: solidBatch([[0, 255, 0]], 224) })).output;
      expect(out.dims).to.deep.equal([1, 3]);
      expect(softmaxRow(out.data as Float32Array, 0, 3)[1]).to.be.greaterThan(0.9);
    });

    it('takes a fixed size, or dynamic H and W with size null', async () => {
      const fixed = await open(colorsClassifier({ size: 64 }));
      expect((fixed.inputMetadata[0] as { shape: unknown }).shape).to.deep.equal(['N', 3, 64, 64]);
      const out = (await fixed.run({ input: solidBatch([[0, 0, 255]], 64) })).output;
      expect(softmaxRow(out.data as Float32Array, 0, 3)[2]).to.be.greaterThan(0.9);
      const dynamic = await open(colorsClassifier({ size: null }));
      expect((dynamic.inputMetadata[0] as { shape: unknown }).shape).to.deep.equal(['N', 3, 'H', 'W']);
      const out2 = (await dynamic.run({ input: solidBatch([[255, 0, 0]], 10) })).output;
      expect(softmaxRow(out2.data as Float32Array, 0, 3)[0]).to.be.greaterThan(0.9);
      expect(() => colorsClassifier({ size: 0 })).to.throw(RangeError);
    });

    it('has labels red, green, blue', () => {
      expect(colorsLabels()).to.deep.equal({ '0': 'red', '1': 'green', '2': 'blue' });
    });
  });

  describe('mlp', () => {
    it('maps [N,inputs] to [N,outputs], deterministically per seed', async () => {
      const x = new ort.Tensor('float32', Float32Array.from({ length: 3 * 8 }, (_, i) => Math.sin(i)), [3, 8]);
      const run = async (seed: number) => {
        const s = await open(mlp({ inputs: 8, hidden: 16, outputs: 5, seed }));
        const out = (await s.run({ input: x })).output;
        expect(out.dims).to.deep.equal([3, 5]);
        return Array.from(out.data as Float32Array);
      };
      const a = await run(7);
      const b = await run(7);
      const c = await run(8);
      expect(a).to.deep.equal(b);
      expect(a).to.not.deep.equal(c);
      expect(mlp()).to.deep.equal(mlp());
    });

    it('uses the defaults 16 → 64 → 4', async () => {
      const s = await open(mlp());
      expect((s.inputMetadata[0] as { shape: unknown }).shape).to.deep.equal(['N', 16]);
      expect((s.outputMetadata[0] as { shape: unknown }).shape).to.deep.equal(['N', 4]);
    });

    it('seededRandom is deterministic and in [0,1)', () => {
      const r1 = seededRandom(3);
      const r2 = seededRandom(3);
      for (let i = 0; i < 100; i++) {
        const v = r1();
        expect(v).to.equal(r2());
        expect(v).to.be.within(0, 1);
      }
    });
  });

  it('addOne adds one', async () => {
    const s = await open(addOne());
    const out = (await s.run({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]) })).y;
    expect(out.dims).to.deep.equal([2, 4]);
    expect(Array.from(out.data as Float32Array)).to.deep.equal([2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('twoInputs gives sum and prod', async () => {
    const s = await open(twoInputs());
    expect(s.inputNames).to.deep.equal(['a', 'b']);
    const a = new ort.Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]);
    const b = new ort.Tensor('float32', new Float32Array([4, 5, 6]), [1, 3]);
    const out = await s.run({ a, b });
    expect(Array.from(out.sum.data as Float32Array)).to.deep.equal([5, 7, 9]);
    expect(Array.from(out.prod.data as Float32Array)).to.deep.equal([4, 10, 18]);
  });

  describe('resnet18Shaped', () => {
    it('is ResNet-18-sized (about 11.7 M parameters) with input [N,3,224,224] and output [N,classes]', async () => {
      const bytes = resnet18Shaped({ seed: 1 });
      const graph = onnxProto.onnx.ModelProto.decode(bytes).graph!;
      const params = graph.initializer!.reduce((sum, t) => sum + (t.dims as number[]).reduce((a, d) => a * Number(d), 1), 0);
      expect(params).to.be.within(11.6e6, 11.8e6);
      expect(graph.node!.filter((n) => n.opType === 'Conv')).to.have.length(20);
      const s = await open(bytes);
      expect((s.inputMetadata[0] as { shape: unknown }).shape).to.deep.equal(['N', 3, 224, 224]);
      expect((s.outputMetadata[0] as { shape: unknown }).shape).to.deep.equal(['N', 1000]);
    });

    it('maps a batch of 2 images to 2 rows of finite logits, the same for the same seed', async () => {
      const x = new ort.Tensor('float32', Float32Array.from({ length: 2 * 3 * 224 * 224 }, (_, i) => Math.sin(i)), [2, 3, 224, 224]);
      const s = await open(resnet18Shaped({ seed: 3, classes: 10 }));
      const out = (await s.run({ input: x })).output;
      expect(out.dims).to.deep.equal([2, 10]);
      expect(Array.from(out.data as Float32Array).every(Number.isFinite)).to.equal(true);
      expect(Buffer.from(resnet18Shaped({ seed: 3, classes: 10 })).equals(Buffer.from(resnet18Shaped({ seed: 3, classes: 10 })))).to.equal(true);
      expect(() => resnet18Shaped({ classes: 0 })).to.throw(RangeError);
    });
  });
});
