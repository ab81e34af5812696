import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { expect } from 'chai';
import { ServeError } from '../../src/errors.ts';
import { packArchive, type PackOptions } from '../../src/archive/pack.ts';
import type { Manifest } from '../../src/handler/contract.ts';

/** A fake model: compressible bytes (the archiver does not parse ONNX). */
const MODEL_BYTES = Buffer.from('ONNX fake model '.repeat(256));
const HANDLER_SRC = 'export class MyHandler { handle(r) { return r.map(() => 1); } }\n';

let tmp: string;
let out: string;

async function write(rel: string, content: string | Buffer): Promise<string> {
  const p = path.join(tmp, rel);
  await fs.mkdir(path.dirname(p), { recursive: true });
  await fs.writeFile(p, content);
  return p;
}

function base(extra: Partial<PackOptions> = {}): PackOptions {
  return {
    modelName: 'mymodel',
    version: '1.0',
    serializedFile: path.join(tmp, 'model.onnx'),
    handler: 'tensor',
    exportPath: out,
    ...extra,
  };
}

function zipManifest(zip: AdmZip): Manifest {
  return JSON.parse(zip.readAsText('MAR-INF/MANIFEST.json')) as Manifest;
}

async function rejects(p: Promise<unknown>, ...parts: string[]): Promise<ServeError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, 'should reject').to.be.instanceOf(ServeError);
  const err = caught as ServeError;
  expect(err.kind).to.equal('BadRequest');
  for (const part of parts) expect(err.message).to.include(part);
  return err;
}

describe('archive/pack', () => {
  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pack-test-'));
    out = path.join(tmp, 'out');
    await write('model.onnx', MODEL_BYTES);
    await write('handler.js', HANDLER_SRC);
  });
  afterEach(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('writes a deflated .mar with the files at the root and a manifest', async () => {
    const written = await packArchive(base({ handler: path.join(tmp, 'handler.js') }));
    expect(written).to.equal(path.join(out, 'mymodel.mar'));
    const zip = new AdmZip(written);
    const names = zip.getEntries().map((e) => e.entryName);
    expect(names).to.have.members(['MAR-INF/MANIFEST.json', 'model.onnx', 'handler.js']);
    const model = zip.getEntry('model.onnx')!;
    expect(model.header.method).to.equal(8);
    expect(model.header.compressedSize).to.be.lessThan(model.header.size);
    expect(model.getData().equals(MODEL_BYTES)).to.equal(true);
    const m = zipManifest(zip);
    expect(m.runtime).to.equal('node');
    expect(m.model).to.deep.equal({ modelName: 'mymodel', modelVersion: '1.0', handler: 'handler.js', serializedFile: 'model.onnx' });
    expect(await fs.readdir(out)).to.deep.equal(['mymodel.mar']); // no temp file left behind
  });

  it('stores, in the default format, a large entry that deflate barely shrinks (weights), and deflates the rest', async () => {
    const weights = (await import('node:crypto')).randomBytes(2 * 1024 * 1024);
    const text = Buffer.alloc(2 * 1024 * 1024, 'abcd');
    await write('weights.onnx', weights);
    await write('vocab.txt', text);
    const written = await packArchive(base({ serializedFile: path.join(tmp, 'weights.onnx'), extraFiles: [path.join(tmp, 'vocab.txt')] }));
    const zip = new AdmZip(written);
    expect(zip.getEntry('weights.onnx')!.header.method).to.equal(0);
    expect(zip.getEntry('vocab.txt')!.header.method).to.equal(8);
    expect(zip.getEntry('weights.onnx')!.getData().equals(weights)).to.equal(true);
    expect(zip.getEntry('vocab.txt')!.getData().equals(text)).to.equal(true);
  });

  it('zip-store really stores (no compression)', async () => {
    const written = await packArchive(base({ archiveFormat: 'zip-store' }));
    const zip = new AdmZip(written);
    for (const e of zip.getEntries()) {
      expect(e.header.method, e.entryName).to.equal(0);
      expect(e.header.compressedSize, e.entryName).to.equal(e.header.size);
    }
    expect(zip.getEntry('model.onnx')!.getData().equals(MODEL_BYTES)).to.equal(true);
    expect(zipManifest(zip).model.handler).to.equal('tensor');
  });

  it('no-archive writes a folder with MAR-INF/MANIFEST.json', async () => {
    const written = await packArchive(base({ archiveFormat: 'no-archive', handler: `${path.join(tmp, 'handler.js')}:MyHandler` }));
    expect(written).to.equal(path.join(out, 'mymodel'));
    expect((await fs.readdir(written)).sort()).to.deep.equal(['MAR-INF', 'handler.js', 'model.onnx']);
    const m = JSON.parse(await fs.readFile(path.join(written, 'MAR-INF', 'MANIFEST.json'), 'utf8')) as Manifest;
    expect(m.model.handler).to.equal('handler.js:MyHandler');
    expect(await fs.readdir(out)).to.deep.equal(['mymodel']);
  });

  it('stores a handler file by basename with its export name', async () => {
    const zip = new AdmZip(await packArchive(base({ handler: `${path.join(tmp, 'handler.js')}:MyHandler` })));
    expect(zipManifest(zip).model.handler).to.equal('handler.js:MyHandler');
    expect(zip.readAsText('handler.js')).to.equal(HANDLER_SRC);
  });

  it('adds no file for a built-in handler', async () => {
    const zip = new AdmZip(await packArchive(base({ handler: 'image_classifier' })));
    expect(zip.getEntries().map((e) => e.entryName)).to.have.members(['MAR-INF/MANIFEST.json', 'model.onnx']);
    expect(zipManifest(zip).model.handler).to.equal('image_classifier');
  });

  it('adds extra files by basename and folders with their inner paths', async () => {
    await write('labels/index_to_name.json', '{"0":"cat"}');
    await write('assets/vocab.txt', 'a\nb\n');
    await write('assets/sub/deep.bin', Buffer.from([1, 2, 3]));
    const zip = new AdmZip(
      await packArchive(base({ extraFiles: [path.join(tmp, 'labels', 'index_to_name.json'), path.join(tmp, 'assets')] })),
    );
    expect(zip.getEntries().map((e) => e.entryName)).to.have.members([
      'MAR-INF/MANIFEST.json',
      'model.onnx',
      'index_to_name.json',
      'vocab.txt',
      'sub/deep.bin',
    ]);
    expect([...zip.getEntry('sub/deep.bin')!.getData()]).to.deep.equal([1, 2, 3]);
  });

  it('accepts a handler found among the extra files', async () => {
    await write('lib/sub/my_handler.mjs', HANDLER_SRC);
    const zip = new AdmZip(
      await packArchive(base({ extraFiles: [path.join(tmp, 'lib')], handler: 'sub/my_handler.mjs:MyHandler' })),
    );
    expect(zipManifest(zip).model.handler).to.equal('sub/my_handler.mjs:MyHandler');
    expect(zip.getEntry('sub/my_handler.mjs')).to.not.equal(null);
  });

  it('adds the config file and names it in the manifest', async () => {
    await write('cfg/model-config.yaml', 'batchSize: 4\n');
    const zip = new AdmZip(await packArchive(base({ configFile: path.join(tmp, 'cfg', 'model-config.yaml') })));
    expect(zipManifest(zip).model.configFile).to.equal('model-config.yaml');
    expect(zip.readAsText('model-config.yaml')).to.equal('batchSize: 4\n');
  });

  it('packs without a serialized file', async () => {
    const zip = new AdmZip(await packArchive(base({ serializedFile: undefined, handler: path.join(tmp, 'handler.js') })));
    expect(zipManifest(zip).model).to.not.have.property('serializedFile');
  });

  it('refuses an existing archive without force and overwrites it with force', async () => {
    await packArchive(base());
    await rejects(packArchive(base({ version: '2.0' })), 'mymodel.mar', 'already exists', '-f/--force');
    const written = await packArchive(base({ version: '2.0', force: true }));
    expect(zipManifest(new AdmZip(written)).model.modelVersion).to.equal('2.0');
    expect(await fs.readdir(out)).to.deep.equal(['mymodel.mar']);
  });

  it('refuses an existing no-archive folder without force and replaces it with force', async () => {
    await packArchive(base({ archiveFormat: 'no-archive' }));
    await fs.writeFile(path.join(out, 'mymodel', 'stale.txt'), 'old');
    await rejects(packArchive(base({ archiveFormat: 'no-archive' })), 'already exists', '-f/--force');
    const written = await packArchive(base({ archiveFormat: 'no-archive', force: true }));
    expect((await fs.readdir(written)).sort()).to.deep.equal(['MAR-INF', 'model.onnx']);
    expect(await fs.readdir(out)).to.deep.equal(['mymodel']);
  });

  it('names a missing serialized, extra or config file', async () => {
    await rejects(packArchive(base({ serializedFile: path.join(tmp, 'nope.onnx') })), '--serialized-file', 'nope.onnx');
    await rejects(packArchive(base({ extraFiles: [path.join(tmp, 'gone.txt')] })), '--extra-files', 'gone.txt');
    await rejects(packArchive(base({ configFile: path.join(tmp, 'none.yaml') })), '--config-file', 'none.yaml');
    await fs.access(out).then(
      () => expect.fail('nothing should be written'),
      () => undefined,
    );
  });

  it('refuses bad model names and empty versions', async () => {
    await rejects(packArchive(base({ modelName: 'bad name' })), '--model-name', 'bad name');
    await rejects(packArchive(base({ modelName: '.hidden' })), '--model-name');
    await rejects(packArchive(base({ modelName: '../escape' })), '--model-name');
    await rejects(packArchive(base({ version: '' })), '--version');
  });

  it('refuses a handler that is neither built in, nor a file, nor among the extra files', async () => {
    await rejects(packArchive(base({ handler: 'no_such_handler.js' })), '--handler', 'no_such_handler.js');
    await rejects(packArchive(base({ handler: 'dali_image_classifier' })), '--handler', 'dali_image_classifier');
  });

  it('refuses a handler file that is not .js or .mjs', async () => {
    await write('handler.py', 'def handle(data, ctx): pass\n');
    await rejects(packArchive(base({ handler: path.join(tmp, 'handler.py') })), '--handler', 'handler.py');
  });

  it('refuses two different files with one name in the archive', async () => {
    await write('other/model.onnx', 'different');
    await rejects(packArchive(base({ extraFiles: [path.join(tmp, 'other', 'model.onnx')] })), 'model.onnx', 'twice');
  });

  it('refuses extra files that would replace MAR-INF', async () => {
    await write('unpacked/MAR-INF/MANIFEST.json', '{}');
    await rejects(packArchive(base({ extraFiles: [path.join(tmp, 'unpacked')] })), 'MAR-INF');
  });
});
