import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import ObjectDetector from '../../handlers/object_detector.ts';
import type { RequestInput } from '../../src/handler/contract.ts';
import { colorBoxDetector, colorBoxLabels, type ColorBoxDetectorOptions } from '../../scripts/lib/vision-models.ts';
import { colorsClassifier } from '../../scripts/lib/onnx-models.ts';
import { squaresImage, type Square } from '../../scripts/lib/squares.ts';
import { makeHandlerContext, type TestHandlerContext } from '../helpers/handler-context.ts';

type Answer = Array<Record<string, number | number[]>>;

function request(data: unknown, query: Record<string, string> = {}): RequestInput {
  return { data, body: data, fields: {}, headers: {}, query, contentType: '', requestId: 'r' };
}

const RED: [number, number, number] = [230, 20, 20];
const GREEN: [number, number, number] = [20, 230, 20];
const BLUE: [number, number, number] = [20, 20, 230];

/** The drawn box as [x1, y1, x2, y2]. */
const boxOf = (s: Square) => [s.x, s.y, s.x + s.width, s.y + s.height];

/** Label of a TorchServe-shaped detection (its one key other than "score"). */
const labelOf = (d: Record<string, unknown>) => Object.keys(d).find((k) => k !== 'score')!;

describe('handlers/object_detector', () => {
  let dir: string;
  const contexts: TestHandlerContext[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'object-detector-'));
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.dispose()));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(
    model: ColorBoxDetectorOptions,
    opts: { labels?: boolean; modelConfig?: Record<string, unknown> } = {},
  ): Promise<{ handler: ObjectDetector; ctx: TestHandlerContext }> {
    const modelDir = path.join(dir, `m${Math.random().toString(36).slice(2)}`);
    await mkdir(modelDir);
    await writeFile(path.join(modelDir, 'model.onnx'), colorBoxDetector(model));
    if (opts.labels !== false) await writeFile(path.join(modelDir, 'index_to_name.json'), JSON.stringify(colorBoxLabels()));
    const ctx = await makeHandlerContext({ modelDir, serializedFile: 'model.onnx', modelConfig: opts.modelConfig });
    contexts.push(ctx);
    const handler = new ObjectDetector();
    await handler.initialize(ctx);
    return { handler, ctx };
  }

  /** Every drawn square found once, with its label, at its drawn place within what the resize can blur. */
  function expectFound(answer: Answer, squares: Array<Square & { label: string }>, imageWidth: number, imageHeight: number): void {
    expect(answer, JSON.stringify(answer)).to.have.length(squares.length);
    // One model input pixel (320×256) covers this many original pixels; the resize may move an edge by one.
    const tolerance = 1.5 * Math.max(imageWidth / 320, imageHeight / 256) + 1;
    for (const s of squares) {
      const found = answer.find((d) => labelOf(d) === s.label);
      expect(found, `${s.label} in ${JSON.stringify(answer)}`).to.not.equal(undefined);
      const box = found![s.label] as number[];
      boxOf(s).forEach((v, i) => expect(box[i]).to.be.closeTo(v, tolerance, `${s.label} box ${JSON.stringify(box)} vs drawn ${boxOf(s)}`));
      expect(found!.score).to.equal(1);
      expect(Object.keys(found!)).to.deep.equal([s.label, 'score']);
    }
  }

  const layouts: ColorBoxDetectorOptions[] = [
    { layout: 'yolov5' },
    { layout: 'yolov8' },
    { layout: 'separate' },
    { layout: 'separate', unbatched: true },
    { layout: 'yolov5', featureMaps: true },
    { layout: 'separate', tensorflow: true },
  ];
  for (const model of layouts) {
    const name =
      `${model.layout}${model.unbatched ? ' (torchvision, no batch dim)' : ''}${model.featureMaps ? ' (feature maps as more outputs)' : ''}` +
      `${model.tensorflow ? ' (TensorFlow: uint8 NHWC in, normalised y1 x1 y2 x2 boxes out)' : ''}`;
    it(`${name}: finds drawn squares at their places in landscape and portrait images`, async () => {
      const config = model.tensorflow ? { box_format: 'yxyx', boxes_normalized: true } : undefined;
      const { handler, ctx } = await setup(model, { modelConfig: config });
      const wide: Array<Square & { label: string }> = [
        { x: 40, y: 60, width: 120, height: 90, rgb: RED, label: 'red' },
        { x: 300, y: 150, width: 150, height: 100, rgb: BLUE, label: 'blue' },
      ];
      const tall: Array<Square & { label: string }> = [
        { x: 20, y: 380, width: 90, height: 70, rgb: GREEN, label: 'green' },
        { x: 150, y: 30, width: 100, height: 160, rgb: RED, label: 'red' },
      ];
      const answers = (await handler.handle(
        [request(await squaresImage(520, 300, wide)), request(await squaresImage(280, 480, tall, 'jpeg'))],
        ctx,
      )) as Answer[];
      expectFound(answers[0], wide, 520, 300);
      expectFound(answers[1], tall, 280, 480);
    });
  }

  it('keeps one box per object (NMS), class-wise, and honours the thresholds of the config and the query', async () => {
    // Each colour gives its box (score 1), a shrunk copy (0.9, IoU 0.81: dropped) and the next class on the
    // same box (0.6: kept by class-wise NMS when the threshold lets it through).
    const { handler, ctx } = await setup({ layout: 'yolov8', duplicates: true });
    const image = await squaresImage(400, 300, [{ x: 50, y: 50, width: 100, height: 100, rgb: RED }]);
    const [defaults] = (await handler.handle([request(image)], ctx)) as Answer[];
    expect(defaults.map((d) => [labelOf(d), d.score])).to.deep.equal([['red', 1], ['green', 0.6]]);
    expect(defaults[1].green).to.deep.equal(defaults[0].red);

    const [strict] = (await handler.handle([request(image, { threshold: '0.7' })], ctx)) as Answer[];
    expect(strict.map(labelOf)).to.deep.equal(['red']);
    const [loose] = (await handler.handle([request(image, { iou_threshold: '0.9' })], ctx)) as Answer[];
    expect(loose.map((d) => [labelOf(d), d.score])).to.deep.equal([['red', 1], ['red', 0.9], ['green', 0.6]]);
    const [one] = (await handler.handle([request(image, { max_detections: '1' })], ctx)) as Answer[];
    expect(one.map(labelOf)).to.deep.equal(['red']);

    const { handler: h2, ctx: c2 } = await setup({ layout: 'yolov5', duplicates: true }, { modelConfig: { threshold: 0.65 } });
    const [configured] = (await h2.handle([request(image)], c2)) as Answer[];
    expect(configured.map(labelOf)).to.deep.equal(['red']);
  });

  it('answers a bad query parameter or a bad image with a 400 for that request only', async () => {
    const { handler, ctx } = await setup({ layout: 'yolov8' });
    const good = await squaresImage(200, 100, [{ x: 10, y: 10, width: 50, height: 50, rgb: BLUE }]);
    const results = await handler.handle(
      [request(good, { threshold: '2' }), request(Buffer.from('not an image')), request(good), request(good, { max_detections: 'x' })],
      ctx,
    );
    expect((results[0] as { status: number; message: string }).status).to.equal(400);
    expect((results[0] as Error).message).to.match(/threshold must be a number from 0 to 1, got "2"/);
    expect((results[1] as { status: number }).status).to.equal(400);
    expect((results[1] as Error).message).to.match(/cannot decode image/);
    expect((results[2] as Answer).map(labelOf)).to.deep.equal(['blue']);
    expect((results[3] as Error).message).to.match(/max_detections must be an integer/);
  });

  it('refuses a bad model config at load with the key and the value', async () => {
    const refusal = async (model: ColorBoxDetectorOptions, modelConfig: Record<string, unknown>) => {
      let err: Error | undefined;
      await setup(model, { modelConfig }).catch((e: Error) => (err = e));
      return err?.message;
    };
    expect(await refusal({ layout: 'yolov8' }, { iou_threshold: 1.5 })).to.match(/iou_threshold must be a number from 0 to 1, got 1.5/);
    expect(await refusal({ layout: 'separate' }, { box_format: 'ltrb' })).to.match(/box_format must be one of xyxy, yxyx, xywh, cxcywh, got "ltrb"/);
    expect(await refusal({ layout: 'yolov8' }, { boxes_normalized: true })).to.match(/are for separate boxes\/scores\/labels outputs/);
    expect(await refusal({ layout: 'yolov8' }, { mean: [0.5, 0.5] })).to.match(/mean must be three numbers/);
  });

  it('refuses at load a model whose outputs are no detector layout, saying what it expected', async () => {
    const modelDir = path.join(dir, 'classifier');
    await mkdir(modelDir);
    await writeFile(path.join(modelDir, 'model.onnx'), colorsClassifier());
    const ctx = await makeHandlerContext({ modelDir, serializedFile: 'model.onnx' });
    contexts.push(ctx);
    let err: Error | undefined;
    await Promise.resolve(new ObjectDetector().initialize(ctx)).catch((e: Error) => (err = e));
    expect(err?.message).to.match(/no detector layout among the outputs "output" \[N,3\]: a YOLO output is \[N, boxes, 5\+classes\] or \[N, 4\+classes, boxes\]; separate outputs are boxes/);
  });

  it('labels with class indices without index_to_name.json when the layout is configured', async () => {
    const { handler, ctx } = await setup({ layout: 'yolov8' }, { labels: false, modelConfig: { layout: 'yolov8' } });
    const image = await squaresImage(300, 300, [{ x: 100, y: 100, width: 60, height: 60, rgb: GREEN }]);
    const [answer] = (await handler.handle([request(image)], ctx)) as Answer[];
    expect(answer.map(labelOf)).to.deep.equal(['1']);
  });

  it('maps boxes through EXIF orientation to the image as displayed', async () => {
    const { handler, ctx } = await setup({ layout: 'yolov8' });
    // Stored 300×200 with the square at the left; orientation 6 (rotate 90° clockwise) shows it 200×300 at the top.
    const stored = await squaresImage(300, 200, [{ x: 0, y: 50, width: 100, height: 100, rgb: RED }], 'jpeg');
    const rotated = await sharp(stored).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const [answer] = (await handler.handle([request(rotated)], ctx)) as Answer[];
    const box = answer[0].red as number[];
    [50, 0, 150, 100].forEach((v, i) => expect(box[i]).to.be.closeTo(v, 3, JSON.stringify(box)));
  });

  it('takes a v2 request of base64 images and answers EfficientNMS-style tensors', async () => {
    const { handler, ctx } = await setup({ layout: 'separate' });
    const a = await squaresImage(320, 256, [{ x: 10, y: 20, width: 40, height: 30, rgb: RED }, { x: 200, y: 100, width: 50, height: 50, rgb: BLUE }]);
    const b = await squaresImage(320, 256, [{ x: 100, y: 100, width: 64, height: 64, rgb: GREEN }]);
    const v2 = { inputs: [{ name: 'images', datatype: 'BYTES', shape: [2], data: [Buffer.from(a.toString('base64')), b] }] };
    const [result] = (await handler.handle([request(v2)], ctx)) as Array<{ outputs: Array<{ name: string; shape: number[]; data: unknown[] }> }>;
    const out = Object.fromEntries(result.outputs.map((o) => [o.name, o]));
    expect(out.num_detections.data).to.deep.equal([2, 1]);
    expect(out.detection_boxes.shape).to.deep.equal([2, 2, 4]);
    expect(out.detection_boxes.data).to.deep.equal([10, 20, 50, 50, 200, 100, 250, 150, 100, 100, 164, 164, 0, 0, 0, 0]);
    expect(out.detection_classes.data).to.deep.equal([0, 2, 1, 0]);
    expect(out.detection_labels.data).to.deep.equal(['red', 'blue', 'green', '']);
    expect(out.detection_scores.data).to.deep.equal([1, 1, 1, 0]);

    const [bad] = await handler.handle([request({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] })], ctx);
    expect((bad as Error).message).to.match(/one BYTES input holding images/);
  });
});
