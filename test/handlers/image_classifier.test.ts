import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import ImageClassifier, { geometry, parseLabels, preprocessImage, topK } from '../../handlers/image_classifier.ts';
import type { RequestInput } from '../../src/handler/contract.ts';
import { colorsClassifier, colorsLabels } from '../../scripts/lib/onnx-models.ts';
import { solidImage } from '../../scripts/lib/images.ts';
import { makeHandlerContext, type TestHandlerContext } from '../helpers/handler-context.ts';

function request(data: unknown, extra: Partial<RequestInput> = {}): RequestInput {
  return { data, body: data, fields: {}, headers: {}, query: {}, contentType: '', requestId: 'r', ...extra };
}

/** Keys of a result in the order they will be sent (a pre-serialised JSON string keeps its own order). */
function keysInOrder(result: unknown): string[] {
  if (typeof result === 'string') return [...result.matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1]}"`));
  return Object.keys(result as object);
}
function asObject(result: unknown): Record<string, number> {
  return (typeof result === 'string' ? JSON.parse(result) : result) as Record<string, number>;
}
function expectDescending(result: unknown): void {
  const obj = asObject(result);
  const probs = keysInOrder(result).map((k) => obj[k]);
  for (let i = 1; i < probs.length; i++) expect(probs[i - 1]).to.be.at.least(probs[i]);
}
function expectTop1(result: unknown, label: string): void {
  expect(result, JSON.stringify(result)).to.not.be.instanceOf(Error);
  expect(keysInOrder(result)[0]).to.equal(label);
  expect(asObject(result)[label]).to.be.greaterThan(0.9);
  expectDescending(result);
}

const RED: [number, number, number] = [255, 0, 0];
const GREEN: [number, number, number] = [0, 255, 0];
const BLUE: [number, number, number] = [0, 0, 255];

describe('handlers/image_classifier', () => {
  let dir: string;
  const contexts: TestHandlerContext[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'image-classifier-'));
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.dispose()));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A model dir with the colours classifier and (unless labels is null) index_to_name.json. */
  async function setup(
    opts: { size?: number | null; batch?: number; labels?: unknown; modelConfig?: Record<string, unknown>; name?: string } = {},
  ): Promise<{ handler: ImageClassifier; ctx: TestHandlerContext }> {
    const modelDir = path.join(dir, opts.name ?? `m${contexts.length}-${Math.random().toString(36).slice(2)}`);
    await mkdir(modelDir, { recursive: true });
    await writeFile(path.join(modelDir, 'model.onnx'), colorsClassifier({ size: opts.size, batch: opts.batch }));
    const labels = opts.labels === undefined ? colorsLabels() : opts.labels;
    if (labels !== null) await writeFile(path.join(modelDir, 'index_to_name.json'), JSON.stringify(labels));
    const ctx = await makeHandlerContext({ modelDir, serializedFile: 'model.onnx', modelConfig: opts.modelConfig });
    contexts.push(ctx);
    const handler = new ImageClassifier();
    await handler.initialize(ctx);
    return { handler, ctx };
  }

  for (const format of ['png', 'jpeg'] as const) {
    it(`labels red, green and blue ${format} images`, async () => {
      const { handler, ctx } = await setup();
      for (const [rgb, label] of [[RED, 'red'], [GREEN, 'green'], [BLUE, 'blue']] as const) {
        const image = await solidImage(...rgb, { format, width: 300, height: 200 });
        const [result] = await handler.handle([request(image)], ctx);
        expectTop1(result, label);
        expect(Object.keys(result as object)).to.have.length(3);
      }
    });
  }

  it('answers a mixed batch in request order, with one run', async () => {
    const { handler, ctx } = await setup();
    const images = await Promise.all([
      solidImage(...BLUE, { format: 'jpeg' }),
      solidImage(...RED),
      solidImage(...GREEN, { width: 500, height: 40 }),
      solidImage(...RED, { format: 'jpeg', width: 20, height: 30 }),
    ]);
    const results = await handler.handle(images.map((b) => request(b)), ctx);
    expect(results).to.have.length(4);
    ['blue', 'red', 'green', 'red'].forEach((label, i) => expectTop1(results[i], label));
  });

  it('accepts base64 strings, data URLs and JSON objects with a base64 field', async () => {
    const { handler, ctx } = await setup();
    const green = (await solidImage(...GREEN)).toString('base64');
    const blue = (await solidImage(...BLUE, { format: 'jpeg' })).toString('base64');
    const results = await handler.handle(
      [
        request(green),
        request(`data:image/jpeg;base64,${blue}`),
        request({ data: green }),
        request({ instances: 1, image: { b64: blue } }),
        request(null, { body: new Uint8Array(await solidImage(...RED)) }),
      ],
      ctx,
    );
    ['green', 'blue', 'green', 'blue', 'red'].forEach((label, i) => expectTop1(results[i], label));
  });

  it('gives an undecodable image a 400 in its slot only', async () => {
    const { handler, ctx } = await setup();
    const red = await solidImage(...RED);
    const results = await handler.handle(
      [
        request(red),
        request(Buffer.from('this is not an image')),
        request(await solidImage(...BLUE)),
        request(red.subarray(0, 40)),
        request({ nothing: 'here' }),
      ],
      ctx,
    );
    expectTop1(results[0], 'red');
    expectTop1(results[2], 'blue');
    for (const i of [1, 3, 4]) {
      const err = results[i] as Error & { status: number };
      expect(err).to.be.instanceOf(ctx.HandlerError);
      expect(err.status).to.equal(400);
      expect(err.message).to.match(/^cannot decode image: /);
    }
  });

  it('answers a batch where every image is bad without running the model', async () => {
    const { handler, ctx } = await setup();
    const results = await handler.handle([request(Buffer.from('x')), request('')], ctx);
    expect(results.map((r) => (r as { status: number }).status)).to.deep.equal([400, 400]);
  });

  it('uses a fixed 64x64 model input size', async () => {
    const { handler, ctx } = await setup({ size: 64 });
    const images = await Promise.all([solidImage(...GREEN, { format: 'jpeg' }), solidImage(...RED, { width: 20, height: 10 })]);
    const results = await handler.handle(images.map((b) => request(b)), ctx);
    expectTop1(results[0], 'green');
    expectTop1(results[1], 'red');
  });

  it('runs images one by one when the model takes a batch of exactly 1', async () => {
    const { handler, ctx } = await setup({ batch: 1 });
    const images = await Promise.all([solidImage(...GREEN), solidImage(...RED), solidImage(...BLUE, { format: 'jpeg' })]);
    const results = await handler.handle(images.map((b) => request(b)), ctx);
    ['green', 'red', 'blue'].forEach((label, i) => expectTop1(results[i], label));
  });

  it('falls back to 224x224 when the model has dynamic H and W', async () => {
    const { handler, ctx } = await setup({ size: null });
    const [result] = await handler.handle([request(await solidImage(...BLUE))], ctx);
    expectTop1(result, 'blue');
  });

  it('falls back to index strings without index_to_name.json, keeping descending order', async () => {
    const { handler, ctx } = await setup({ labels: null });
    const [result] = await handler.handle([request(await solidImage(...BLUE))], ctx);
    // Integer-like keys would be reordered ascending in a JS object, so the result comes pre-serialised.
    expect(result).to.be.a('string');
    expect(ctx.responseCalls).to.deep.include({ index: 0, kind: 'contentType', value: 'application/json' });
    expectTop1(result, '2');
    expect(keysInOrder(result)).to.have.length(3);
    expect(Object.keys(asObject(result)).sort()).to.deep.equal(['0', '1', '2']);
  });

  it('gives every request its own answer across batches of different sizes (the input array is reused)', async () => {
    const { handler, ctx } = await setup();
    const [red, green, blue] = await Promise.all([solidImage(...RED), solidImage(...GREEN), solidImage(...BLUE)]);
    const first = await handler.handle([request(red), request(green), request(blue)], ctx);
    ['red', 'green', 'blue'].forEach((label, i) => expectTop1(first[i], label));
    const second = await handler.handle([request(blue)], ctx);
    expectTop1(second[0], 'blue');
    const third = await handler.handle([request(Buffer.from('not an image')), request(green), request(red)], ctx);
    expect(third[0]).to.be.instanceOf(Error);
    expectTop1(third[1], 'green');
    expectTop1(third[2], 'red');
  });

  it('reads TorchServe-style [id, name] labels', async () => {
    const labels = { 0: ['n001', 'red'], 1: ['n002', 'green'], 2: ['n003', 'blue'] };
    const { handler, ctx } = await setup({ labels });
    const [result] = await handler.handle([request(await solidImage(...GREEN))], ctx);
    expectTop1(result, 'green');
  });

  it('honours topk from the model config', async () => {
    const { handler, ctx } = await setup({ modelConfig: { topk: 2 } });
    const [result] = await handler.handle([request(await solidImage(...RED))], ctx);
    expect(keysInOrder(result)).to.have.length(2);
    expectTop1(result, 'red');
    const bad = await setup({ modelConfig: { topk: 'lots' } });
    const [r2] = await bad.handler.handle([request(await solidImage(...RED))], bad.ctx);
    expect(keysInOrder(r2)).to.have.length(3);
    expect(bad.ctx.logs.some((l) => l.level === 'warn' && /topk/.test(l.msg))).to.equal(true);
  });

  it('flattens alpha and converts greyscale to RGB', async () => {
    const { handler, ctx } = await setup();
    const rgba = await sharp({ create: { width: 50, height: 50, channels: 4, background: { r: 0, g: 255, b: 0, alpha: 1 } } })
      .png()
      .toBuffer();
    const grey = await sharp({ create: { width: 50, height: 50, channels: 3, background: { r: 0, g: 0, b: 250 } } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(grey).metadata()).channels).to.equal(1);
    const results = await handler.handle([request(rgba), request(grey)], ctx);
    expectTop1(results[0], 'green');
    expect(results[1]).to.not.be.instanceOf(Error);
  });

  it('applies EXIF orientation before the crop', async () => {
    // Stored: left half red, right half blue, tagged "rotate 90° clockwise": upright, red is on top.
    const stored = await sharp({ create: { width: 200, height: 200, channels: 3, background: { r: 0, g: 0, b: 255 } } })
      .composite([{ input: await solidImage(...RED, { width: 100, height: 200 }), left: 0, top: 0 }])
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 95 })
      .toBuffer();
    expect((await sharp(stored).metadata()).orientation).to.equal(6);
    const out = new Float32Array(3 * 32 * 32);
    await preprocessImage(stored, 32, 32, out, 0);
    const at = (c: number, y: number, x: number) => out[c * 32 * 32 + y * 32 + x];
    expect(at(0, 2, 16)).to.be.greaterThan(2); // top: red channel high
    expect(at(2, 2, 16)).to.be.lessThan(-1);
    expect(at(0, 29, 16)).to.be.lessThan(-1); // bottom: blue
    expect(at(2, 29, 16)).to.be.greaterThan(2);
  });

  it('refuses images over limit_max_image_pixels', async () => {
    const { handler, ctx } = await setup({ modelConfig: { limit_max_image_pixels: 1000 } });
    const results = await handler.handle([request(await solidImage(...RED, { width: 100, height: 100 }))], ctx);
    expect((results[0] as { status: number }).status).to.equal(400);
    expect((results[0] as Error).message).to.match(/^cannot decode image: .*pixel/);
  });

  it('refuses to initialize without a model, and on a malformed index_to_name.json', async () => {
    const ctx = await makeHandlerContext({ modelDir: dir });
    contexts.push(ctx);
    let err: unknown;
    try {
      await new ImageClassifier().initialize(ctx);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.match(/serializedFile/);
    err = undefined;
    try {
      await setup({ labels: ['red', 'green'] });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.match(/index_to_name\.json/);
  });

  describe('helpers', () => {
    it('geometry: shorter side 256, centre 224, like torchvision', () => {
      expect(geometry(640, 480, 224, 224)).to.deep.equal({
        resizeWidth: 341, resizeHeight: 256, left: 58, top: 16, width: 224, height: 224,
      });
      expect(geometry(480, 640, 224, 224)).to.deep.include({ resizeWidth: 256, resizeHeight: 341, left: 16, top: 58 });
      expect(geometry(100, 100, 64, 64)).to.deep.include({ resizeWidth: 73, resizeHeight: 73, left: 4, top: 4 });
      // A wide crop still fits inside the resize.
      const g = geometry(100, 100, 32, 200);
      expect(g.resizeWidth).to.be.at.least(200);
      expect(g.resizeHeight).to.be.at.least(32);
    });

    it('parseLabels takes names or the last element of arrays', () => {
      expect([...parseLabels({ '0': ['x', 'a'], '1': 'b' })]).to.deep.equal([[0, 'a'], [1, 'b']]);
      expect(() => parseLabels({ x: 'a' })).to.throw(/class index/);
    });

    it('topK gives the k best softmax probabilities, best first', () => {
      const best = topK([0, 3, 1, 2, -1], 0, 5, 3);
      expect(best.map(([i]) => i)).to.deep.equal([1, 3, 2]);
      const sum = [0, 3, 1, 2, -1].reduce((s, x) => s + Math.exp(x), 0);
      expect(best[0][1]).to.be.closeTo(Math.exp(3) / sum, 1e-12);
    });
  });
});
