/**
 * What the soak serves and sends, built in a temp folder: the colours classifier (image_classifier handler) and
 * the MLP (tensor handler), packed with the project's own packArchive, and a fixed mix of requests. Each case
 * knows the answer it must get: the right colour, a well-formed tensor, or for the bad ones a 400 in TorchServe's
 * JSON shape. About one request in six is bad (undecodable image, invalid JSON, wrong tensor shape).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { packArchive } from '../../src/archive/pack.ts';
import { colorsClassifier, colorsLabels, mlp, seededRandom } from '../lib/onnx-models.ts';
import { solidImage } from '../lib/images.ts';

const MLP_INPUTS = 16;
const MLP_OUTPUTS = 4;

export interface Case {
  /** Short name for reports, e.g. `jpeg red`, `bad: invalid json`. */
  kind: string;
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
  /** A description of what is wrong with this answer, or undefined when it is the expected one. */
  check(status: number, body: string): string | undefined;
}

export interface SoakFixtures {
  store: string;
  archives: string[];
  cases: Case[];
  /** A PNG the colours model takes, for the hostile clients. */
  image: Buffer;
  /** A valid MLP request body. */
  mlpBody: string;
}

function parse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const brief = (body: string) => (body.length > 120 ? `${body.slice(0, 120)}…` : body);

function expectColour(colour: string) {
  return (status: number, body: string): string | undefined => {
    const top = Object.keys((parse(body) as object | undefined) ?? {})[0];
    if (status !== 200 || top !== colour) return `expected 200 "${colour}", got ${status} ${brief(body)}`;
    return undefined;
  };
}

function expectTensor(status: number, body: string): string | undefined {
  const out = (parse(body) as { outputs?: Record<string, unknown> } | undefined)?.outputs;
  const rows = out && Object.values(out)[0];
  const ok =
    status === 200 &&
    Array.isArray(rows) &&
    rows.length === 1 &&
    Array.isArray(rows[0]) &&
    rows[0].length === MLP_OUTPUTS &&
    rows[0].every((v: unknown) => typeof v === 'number' && Number.isFinite(v));
  return ok ? undefined : `expected 200 with a [1,${MLP_OUTPUTS}] tensor, got ${status} ${brief(body)}`;
}

function expectBadRequest(status: number, body: string): string | undefined {
  const err = parse(body) as { code?: unknown; message?: unknown } | undefined;
  const ok = status === 400 && err?.code === 400 && typeof err.message === 'string' && err.message.length > 0;
  return ok ? undefined : `expected 400 {code,type,message}, got ${status} ${brief(body)}`;
}

function expectV2Refusal(want: string) {
  return (status: number, body: string): string | undefined => {
    const err = (parse(body) as { error?: unknown } | undefined)?.error;
    return status === 400 && typeof err === 'string' && err.includes(want) ? undefined : `expected 400 {"error": "…${want}…"}, got ${status} ${brief(body)}`;
  };
}

/** Hostile requests in the mix: 5,000 nested arrays (10 KB), and 1.6 million empty BYTES elements (6.4 MB) for the FP32 MLP. */
function hostileCases(): Case[] {
  const nested = '['.repeat(5000) + '1' + ']'.repeat(5000);
  const n = 1_600_000;
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype: 'BYTES', shape: [n], parameters: { binary_data_size: n * 4 } }] }));
  return [
    { kind: 'hostile: nested json', method: 'POST', path: '/predictions/mlp', headers: { 'content-type': 'application/json' }, body: nested, check: expectBadRequest },
    {
      kind: 'hostile: bytes flood',
      method: 'POST',
      path: '/v2/models/mlp/infer',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, Buffer.alloc(n * 4)]),
      check: expectV2Refusal('expects datatype FP32, got BYTES'),
    },
  ];
}

function multipart(file: Buffer, type: string): { body: Buffer; contentType: string } {
  const boundary = '----soak-boundary-7d1f3c';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="image"\r\nContent-Type: ${type}\r\n\r\n`;
  const body = Buffer.concat([Buffer.from(head), file, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

async function packModels(dir: string): Promise<{ store: string; archives: string[] }> {
  const src = path.join(dir, 'src');
  const store = path.join(dir, 'store');
  await fs.mkdir(src, { recursive: true });
  const write = async (name: string, data: Uint8Array | string) => {
    const file = path.join(src, name);
    await fs.writeFile(file, data);
    return file;
  };
  await packArchive({
    modelName: 'colors',
    version: '1.0',
    serializedFile: await write('colors.onnx', colorsClassifier()),
    handler: 'image_classifier',
    extraFiles: [await write('index_to_name.json', JSON.stringify(colorsLabels()))],
    configFile: await write('colors-config.yaml', 'batchSize: 8\nmaxBatchDelay: 20\n'),
    exportPath: store,
  });
  await packArchive({
    modelName: 'mlp',
    version: '1.0',
    serializedFile: await write('mlp.onnx', mlp({ inputs: MLP_INPUTS, hidden: 64, outputs: MLP_OUTPUTS, seed: 1 })),
    handler: 'tensor',
    configFile: await write('mlp-config.yaml', 'batchSize: 16\nmaxBatchDelay: 20\n'),
    exportPath: store,
  });
  return { store, archives: ['colors.mar', 'mlp.mar'] };
}

async function requestCases(hostile: boolean): Promise<Case[]> {
  const colours: Record<string, [number, number, number]> = { red: [230, 10, 10], green: [10, 200, 20], blue: [5, 5, 240] };
  const size = { width: 320, height: 240 };
  const image = (colour: 'red' | 'green' | 'blue', format: 'jpeg' | 'png', via: 'raw' | 'multipart'): Promise<Case> =>
    solidImage(colours[colour][0], colours[colour][1], colours[colour][2], { ...size, format }).then((file) => {
      const type = `image/${format}`;
      const { body, contentType } = via === 'raw' ? { body: file, contentType: type } : multipart(file, type);
      const kind = `${format}${via === 'multipart' ? ' multipart' : ''} ${colour}`;
      return { kind, method: 'POST', path: '/predictions/colors', headers: { 'content-type': contentType }, body, check: expectColour(colour) };
    });
  const rand = seededRandom(7);
  const tensor = (n: number): Case => ({
    kind: 'mlp json',
    method: 'POST',
    path: '/predictions/mlp',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([Array.from({ length: n }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4)]),
    check: n === MLP_INPUTS ? expectTensor : expectBadRequest,
  });
  const bad = (kind: string, p: string, type: string, body: string): Case => ({
    kind: `bad: ${kind}`, method: 'POST', path: p, headers: { 'content-type': type }, body, check: expectBadRequest,
  });
  const wrongShape = { ...tensor(3), kind: 'bad: wrong tensor shape' };
  return [
    await image('red', 'jpeg', 'raw'),
    tensor(MLP_INPUTS),
    await image('green', 'png', 'raw'),
    tensor(MLP_INPUTS),
    await image('blue', 'png', 'multipart'),
    bad('undecodable image', '/predictions/colors', 'image/jpeg', 'this is not an image'),
    await image('green', 'jpeg', 'raw'),
    tensor(MLP_INPUTS),
    await image('blue', 'png', 'raw'),
    tensor(MLP_INPUTS),
    bad('invalid json', '/predictions/mlp', 'application/json', '{"inputs": [1, 2,'),
    await image('blue', 'jpeg', 'raw'),
    tensor(MLP_INPUTS),
    await image('red', 'png', 'raw'),
    wrongShape,
    await image('red', 'jpeg', 'multipart'),
    tensor(MLP_INPUTS),
    await image('green', 'png', 'raw'),
    ...(hostile ? hostileCases() : []),
  ];
}

export async function buildSoakFixtures(dir: string, hostile = true): Promise<SoakFixtures> {
  const [{ store, archives }, cases, image] = await Promise.all([packModels(dir), requestCases(hostile), solidImage(10, 200, 20, { width: 320, height: 240, format: 'png' })]);
  const mlpBody = JSON.stringify([Array.from({ length: MLP_INPUTS }, (_, i) => i / MLP_INPUTS)]);
  return { store, archives, cases, image, mlpBody };
}
