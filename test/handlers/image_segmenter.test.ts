import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import ImageSegmenter from '../../handlers/image_segmenter.ts';
import { classMap } from '../../handlers/segmentation/class-map.ts';
import type { RequestInput } from '../../src/handler/contract.ts';
import { colorSegmenter } from '../../scripts/lib/vision-models.ts';
import { squaresImage } from '../../scripts/lib/squares.ts';
import { makeHandlerContext, type TestHandlerContext } from '../helpers/handler-context.ts';

function request(data: unknown, headers: Record<string, string> = {}): RequestInput {
  return { data, body: data, fields: {}, headers, query: {}, contentType: '', requestId: 'r' };
}

const RED: [number, number, number] = [230, 20, 20];
const BLUE: [number, number, number] = [20, 20, 230];
const SQUARES = [
  { x: 30, y: 20, width: 80, height: 60, rgb: RED },
  { x: 150, y: 90, width: 60, height: 70, rgb: BLUE },
];
/** Class of pixel (x, y) of the drawing above on grey: 1 red, 3 blue, 0 background. */
function drawnClass(x: number, y: number): number {
  for (const [s, cls] of [[SQUARES[0], 1], [SQUARES[1], 3]] as const) {
    if (x >= s.x && x < s.x + s.width && y >= s.y && y < s.y + s.height) return cls;
  }
  return 0;
}
/** Distance from (x, y) to the nearest drawn edge (pixels near an edge may go either way after resizing). */
function edgeDistance(x: number, y: number): number {
  let d = Infinity;
  for (const s of SQUARES) {
    const inside = x >= s.x - 1 && x <= s.x + s.width && y >= s.y - 1 && y <= s.y + s.height;
    const dx = Math.min(Math.abs(x - s.x), Math.abs(x - (s.x + s.width)));
    const dy = Math.min(Math.abs(y - s.y), Math.abs(y - (s.y + s.height)));
    const nearX = y >= s.y - 8 && y <= s.y + s.height + 8;
    const nearY = x >= s.x - 8 && x <= s.x + s.width + 8;
    if (inside || nearX) d = Math.min(d, dx);
    if (inside || nearY) d = Math.min(d, dy);
  }
  return d;
}

describe('handlers/image_segmenter', () => {
  let dir: string;
  const contexts: TestHandlerContext[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'image-segmenter-'));
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.dispose()));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(opts: { size?: number | null; modelConfig?: Record<string, unknown> } = {}) {
    const modelDir = path.join(dir, `m${Math.random().toString(36).slice(2)}`);
    await mkdir(modelDir);
    await writeFile(path.join(modelDir, 'model.onnx'), colorSegmenter({ size: opts.size }));
    const ctx = await makeHandlerContext({ modelDir, serializedFile: 'model.onnx', modelConfig: opts.modelConfig });
    contexts.push(ctx);
    const handler = new ImageSegmenter();
    handler.initialize(ctx);
    return { handler, ctx };
  }

  /** Every pixel away from the drawn edges has the drawn class. */
  function expectDrawnClasses(classAt: (x: number, y: number) => number, width: number, height: number, margin: number): void {
    let checked = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (edgeDistance(x, y) <= margin) continue;
        expect(classAt(x, y), `pixel ${x},${y}`).to.equal(drawnClass(x, y));
        checked++;
      }
    }
    expect(checked).to.be.greaterThan(width * height * 0.4);
  }

  for (const size of [64, null] as const) {
    it(`labels pixels by colour at the original size as TorchServe's [H][W][class, probability] (${size ? 'fixed 64x64' : 'free'} input)`, async () => {
      const { handler, ctx } = await setup({ size });
      const image = await squaresImage(240, 180, SQUARES);
      const [rows] = (await handler.handle([request(image)], ctx)) as number[][][][];
      expect(rows).to.have.length(180);
      expect(rows[0]).to.have.length(240);
      // 64x64 input, 16x16 output: one output pixel is 15x11 original pixels; a free input (shorter side 256,
      // output /4) is finer.
      expectDrawnClasses((x, y) => rows[y][x][0], 240, 180, size ? 16 : 6);
      const [cls, p] = rows[50][70];
      expect(cls).to.equal(1);
      expect(p).to.be.greaterThan(0.95).and.at.most(1);
      expect(rows[170][5][0]).to.equal(0);
    });
  }

  it('answers a greyscale PNG of class indices for Accept: image/png', async () => {
    const { handler, ctx } = await setup();
    const image = await squaresImage(240, 180, SQUARES, 'jpeg');
    const [mask] = await handler.handle([request(image, { accept: 'image/png' })], ctx);
    expect(mask).to.be.instanceOf(Buffer);
    expect(ctx.responseCalls).to.deep.include({ index: 0, kind: 'contentType', value: 'image/png' });
    const meta = await sharp(mask as Buffer).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).to.deep.equal(['png', 240, 180, 1]);
    const { data } = await sharp(mask as Buffer).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expectDrawnClasses((x, y) => data[y * 240 + x], 240, 180, 16);
  });

  it('segments a batch of images of different sizes, each at its own size; a bad image fails alone', async () => {
    const { handler, ctx } = await setup();
    const small = await squaresImage(240, 180, SQUARES);
    const big = await sharp(small).resize(480, 360, { kernel: 'nearest' }).png().toBuffer();
    const results = await handler.handle([request(small), request(Buffer.from('nope')), request(big)], ctx);
    expect((results[0] as unknown[]).length).to.equal(180);
    expect((results[1] as { status: number }).status).to.equal(400);
    const rows = results[2] as number[][][];
    expect([rows.length, rows[0].length]).to.deep.equal([360, 480]);
    expect(rows[100][140][0]).to.equal(1); // (70, 50) in the small image
    expect(rows[250][360][0]).to.equal(3);
  });

  it('refuses a JSON mask over max_json_pixels with a 413 that points to the PNG, which still works', async () => {
    const { handler, ctx } = await setup({ modelConfig: { max_json_pixels: 10_000 } });
    const image = await squaresImage(240, 180, SQUARES);
    const [json, png] = await handler.handle([request(image), request(image, { accept: 'image/png' })], ctx);
    expect((json as { status: number }).status).to.equal(413);
    expect((json as Error).message).to.match(/240x180 image makes a JSON mask of 43200 pixels, over max_json_pixels \(10000\): ask for a PNG mask with Accept: image\/png/);
    expect(png).to.be.instanceOf(Buffer);
  });

  it('takes a v2 request and answers classes and probabilities tensors', async () => {
    const { handler, ctx } = await setup();
    const image = await squaresImage(240, 180, SQUARES);
    const v2 = { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [Buffer.from(image.toString('base64'))] }] };
    const [result] = (await handler.handle([request(v2)], ctx)) as Array<{ outputs: Array<{ name: string; shape: number[]; data: number[] }> }>;
    const [classes, probs] = result.outputs;
    expect(classes.name).to.equal('classes');
    expect(classes.shape).to.deep.equal([1, 180, 240]);
    expect(classes.data[50 * 240 + 70]).to.equal(1);
    expect(classes.data[120 * 240 + 180]).to.equal(3);
    expect(probs.shape).to.deep.equal([1, 180, 240]);
  });

  it('classMap: softmax at the model\'s resolution, probabilities resized bilinearly (half-pixel centres), best class', () => {
    // Two classes on a 1x2 grid: class 1 wins on the right. Resized to 4 wide: x = 0,1 left, 2,3 right.
    const scores = Float32Array.from([2, 0, 0, 2]); // class 0: [2, 0]; class 1: [0, 2]
    const map = classMap(scores, 0, 2, 1, 2, 4, 1, true);
    expect([...map.classes]).to.deep.equal([0, 0, 1, 1]);
    const strong = 1 / (1 + Math.exp(-2)); // softmax([2, 0])[0]
    // x = 1 samples 0.25 of the way from the left pixel to the right one; x = 0 clamps to the left pixel.
    expect(map.probabilities![1]).to.be.closeTo(0.75 * strong + 0.25 * (1 - strong), 1e-6);
    expect(map.probabilities![0]).to.be.closeTo(strong, 1e-6);
    // The fast path (all four neighbours agree) and the full mix give the same answer: a 2x2 of one class.
    const same = classMap(Float32Array.from([3, 3, 3, 3, 0, 1, 0, 1]), 0, 2, 2, 2, 3, 3, true);
    expect([...same.classes]).to.deep.equal(Array(9).fill(0));
    // One class: a binary mask by sigmoid.
    const binary = classMap(Float32Array.from([-3, 3]), 0, 1, 1, 2, 2, 1, true);
    expect([...binary.classes]).to.deep.equal([0, 1]);
    expect(binary.probabilities![1]).to.be.closeTo(1 / (1 + Math.exp(-3)), 1e-6);
    expect(binary.probabilities![0]).to.be.closeTo(1 / (1 + Math.exp(-3)), 1e-6);
  });
});
