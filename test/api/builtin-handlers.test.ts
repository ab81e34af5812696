/**
 * object_detector, image_segmenter and text_classifier as a user meets them: archives with models whose answers
 * are known, served in worker threads, asked over /predictions, KServe v1 and v2 (JSON and binary), with
 * concurrent requests batched together.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import type { RunningServer } from '../../src/server.ts';
import { colorBoxDetector, colorBoxLabels, colorSegmenter } from '../../scripts/lib/vision-models.ts';
import { sentimentLabels, sentimentModel, sentimentTokenizer } from '../../scripts/lib/text-models.ts';
import { squaresImage, type Square } from '../../scripts/lib/squares.ts';
import { describeModel, startTestServer, TestStore } from '../helpers/server.ts';
import { binaryBody, bytesElements } from '../helpers/v2-models.ts';

const RED: [number, number, number] = [230, 20, 20];
const GREEN: [number, number, number] = [20, 230, 20];
const BLUE: [number, number, number] = [20, 20, 230];

type Detections = Array<Record<string, number | number[]>>;

describe('built-in object_detector, image_segmenter and text_classifier over HTTP', function () {
  let store: TestStore;
  let server: RunningServer;
  const url = (p: string) => `${server.inferenceUrl}${p}`;

  before(async () => {
    store = await TestStore.create();
    const batching = 'batchSize: 4\nmaxBatchDelay: 200\n';
    await store.add({ name: 'detector', model: colorBoxDetector({ layout: 'yolov8', duplicates: true }), handler: 'object_detector', extra: { 'index_to_name.json': JSON.stringify(colorBoxLabels()) }, config: batching });
    await store.add({ name: 'segmenter', model: colorSegmenter(), handler: 'image_segmenter', config: batching });
    await store.add({
      name: 'sentiment',
      model: sentimentModel(),
      handler: 'text_classifier',
      extra: { 'tokenizer.json': JSON.stringify(sentimentTokenizer()), 'index_to_name.json': JSON.stringify(sentimentLabels()) },
      config: batching,
    });
    server = await startTestServer(store, ['detector.mar', 'segmenter.mar', 'sentiment.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  /** One image per colour, the square at a place of its own. */
  const scenes: Array<{ square: Square; label: string }> = [
    { square: { x: 20, y: 30, width: 100, height: 80, rgb: RED }, label: 'red' },
    { square: { x: 200, y: 100, width: 60, height: 120, rgb: GREEN }, label: 'green' },
    { square: { x: 300, y: 20, width: 90, height: 90, rgb: BLUE }, label: 'blue' },
    { square: { x: 150, y: 150, width: 70, height: 70, rgb: RED }, label: 'red' },
  ];

  function expectBox(box: number[], s: Square): void {
    [s.x, s.y, s.x + s.width, s.y + s.height].forEach((v, i) => expect(box[i]).to.be.closeTo(v, 3, JSON.stringify(box)));
  }

  it('object_detector: concurrent /predictions are batched and each gets its own boxes', async () => {
    const images = await Promise.all(scenes.map(({ square }) => squaresImage(420, 260, [square])));
    const answers = await Promise.all(
      images.map(async (image) => {
        const res = await fetch(url('/predictions/detector?threshold=0.7'), { method: 'POST', body: new Uint8Array(image), headers: { 'content-type': 'image/png' } });
        expect(res.status).to.equal(200);
        return (await res.json()) as Detections;
      }),
    );
    answers.forEach((a, i) => {
      expect(a, JSON.stringify(a)).to.have.length(1);
      expectBox(a[0][scenes[i].label] as number[], scenes[i].square);
      expect(a[0].score).to.equal(1);
    });
    // Sent at once to one worker: the first runs alone, the others queue behind it and share a batch.
    const metrics = await fetch(`${server.metricsUrl}/metrics`).then((r) => r.text());
    const count = Number(/modelserver_batch_size_count\{model_name="detector"[^}]*\} (\d+)/.exec(metrics)?.[1]);
    const sum = Number(/modelserver_batch_size_sum\{model_name="detector"[^}]*\} (\d+)/.exec(metrics)?.[1]);
    expect(sum).to.equal(4);
    expect(count).to.be.lessThan(4);
  });

  it('object_detector: a bad query parameter is a 400 that names it; a non-image is a 400', async () => {
    const image = new Uint8Array(await squaresImage(100, 100, []));
    const res = await fetch(url('/predictions/detector?iou_threshold=high'), { method: 'POST', body: image });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { message: string }).message).to.match(/iou_threshold must be a number from 0 to 1, got "high"/);
    const bad = await fetch(url('/predictions/detector'), { method: 'POST', body: 'not an image', headers: { 'content-type': 'image/png' } });
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { message: string }).message).to.match(/cannot decode image/);
    const none = await fetch(url('/predictions/detector'), { method: 'POST', body: image });
    expect(await none.json()).to.deep.equal([]);
  });

  it('object_detector: KServe v1 instances of base64 images', async () => {
    const images = await Promise.all(scenes.slice(0, 2).map(({ square }) => squaresImage(420, 260, [square], 'jpeg')));
    const res = await fetch(url('/v1/models/detector:predict'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: images.map((b) => ({ data: b.toString('base64') })) }),
    });
    expect(res.status).to.equal(200);
    const { predictions } = (await res.json()) as { predictions: Detections[] };
    expect(predictions.map((p) => p.map((d) => Object.keys(d)[0]))).to.deep.equal([['red', 'green'], ['green', 'blue']]);
    expectBox(predictions[1][0].green as number[], scenes[1].square);
  });

  it('object_detector: v2 with the binary extension, and with base64 JSON', async () => {
    const image = await squaresImage(420, 260, [scenes[2].square]);
    const header = { inputs: [{ name: 'images', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: image.byteLength + 4 } }], parameters: { threshold: 0.7 } };
    const { body, headerLength } = binaryBody(header, bytesElements(image));
    const res = await fetch(url('/v2/models/detector/infer'), { method: 'POST', body: new Uint8Array(body), headers: { 'inference-header-content-length': String(headerLength), 'content-type': 'application/octet-stream' } });
    expect(res.status, await res.clone().text()).to.equal(200);
    const answer = (await res.json()) as { model_name: string; outputs: Array<{ name: string; data: unknown[]; shape: number[] }> };
    expect(answer.model_name).to.equal('detector');
    const out = Object.fromEntries(answer.outputs.map((o) => [o.name, o]));
    expect(out.num_detections.data).to.deep.equal([1]);
    expect(out.detection_labels.data).to.deep.equal(['blue']);
    expectBox(out.detection_boxes.data as number[], scenes[2].square);

    const json = await fetch(url('/v2/models/detector/infer'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'q1', inputs: [{ name: 'images', datatype: 'BYTES', shape: [1], data: [image.toString('base64')] }] }),
    });
    expect(json.status).to.equal(200);
    const j = (await json.json()) as { id: string; outputs: Array<{ name: string; data: unknown[] }> };
    expect(j.id).to.equal('q1');
    expect(j.outputs.find((o) => o.name === 'detection_labels')!.data).to.deep.equal(['blue', 'red']); // red: the 0.6 shifted class
  });

  it('image_segmenter: JSON rows at the original size, a PNG mask for Accept: image/png, v1 and v2', async () => {
    const image = await squaresImage(200, 120, [{ x: 20, y: 20, width: 80, height: 60, rgb: BLUE }]);
    const [rows, png] = await Promise.all([
      fetch(url('/predictions/segmenter'), { method: 'POST', body: new Uint8Array(image) }).then(async (r) => (await r.json()) as number[][][]),
      fetch(url('/predictions/segmenter'), { method: 'POST', body: new Uint8Array(image), headers: { accept: 'image/png' } }),
    ]);
    expect([rows.length, rows[0].length]).to.deep.equal([120, 200]);
    expect(rows[50][60][0]).to.equal(3);
    expect(rows[110][180][0]).to.equal(0);
    expect(png.headers.get('content-type')).to.equal('image/png');
    const mask = await sharp(Buffer.from(await png.arrayBuffer())).extractChannel(0).raw().toBuffer();
    expect([mask[50 * 200 + 60], mask[110 * 200 + 180]]).to.deep.equal([3, 0]);

    const v1 = await fetch(url('/v1/models/segmenter:predict'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [{ b64: image.toString('base64') }] }) });
    const { predictions } = (await v1.json()) as { predictions: number[][][][] };
    expect(predictions[0][50][60][0]).to.equal(3);

    const v2 = await fetch(url('/v2/models/segmenter/infer'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [image.toString('base64')] }] }) });
    const out = ((await v2.json()) as { outputs: Array<{ name: string; shape: number[]; data: number[] }> }).outputs[0];
    expect(out.shape).to.deep.equal([1, 120, 200]);
    expect(out.data[50 * 200 + 60]).to.equal(3);
  });

  it('text_classifier: concurrent texts batched (padded, masked), v1 and v2', async () => {
    const texts = ['great fun', 'the worst, most boring plot ' + 'bad '.repeat(20), 'I love this film', 'awful'];
    const answers = await Promise.all(
      texts.map((t) => fetch(url('/predictions/sentiment'), { method: 'POST', body: t, headers: { 'content-type': 'text/plain' } }).then((r) => r.json() as Promise<Record<string, number>>)),
    );
    expect(answers.map((a) => Object.keys(a)[0])).to.deep.equal(['positive', 'negative', 'positive', 'negative']);
    expect(answers[0].positive).to.be.closeTo(Math.exp(2) / (1 + Math.exp(2)), 1e-6);
    expect(answers[2].positive).to.be.closeTo(Math.exp(1) / (1 + Math.exp(1)), 1e-6); // padding masked

    const v1 = await fetch(url('/v1/models/sentiment:predict'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: ['fun', { text: 'hate it' }] }) });
    const { predictions } = (await v1.json()) as { predictions: Array<Record<string, number>> };
    expect(predictions.map((p) => Object.keys(p)[0])).to.deep.equal(['positive', 'negative']);

    const v2 = await fetch(url('/v2/models/sentiment/infer'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['excellent', 'bad bad'] }] }) });
    const outputs = ((await v2.json()) as { outputs: Array<{ name: string; shape: number[]; data: unknown[] }> }).outputs;
    expect(outputs[0].shape).to.deep.equal([2, 2]);
    expect(outputs[1].data).to.deep.equal(['positive', 'negative']);

    const empty = await fetch(url('/predictions/sentiment'), { method: 'POST', body: '   ', headers: { 'content-type': 'text/plain' } });
    expect(empty.status).to.equal(400);
  });

  it('answers a v2 request without a BYTES input with a 400 {"error"} that says what to send', async () => {
    for (const model of ['detector', 'segmenter', 'sentiment']) {
      const res = await fetch(url(`/v2/models/${model}/infer`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }),
      });
      expect(res.status, model).to.equal(400);
      expect(((await res.json()) as { error: string }).error).to.match(/send one BYTES input holding (images|texts), one per element \(got "x" FP32\)/);
    }
  });

  it('describes the three models as READY with their built-in handler names', async () => {
    for (const name of ['detector', 'segmenter', 'sentiment']) {
      const d = await describeModel(server, name);
      expect(d.workers[0].status).to.equal('READY');
    }
  });
});
