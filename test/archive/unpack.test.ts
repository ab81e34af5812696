import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { expect } from 'chai';
import { ServeError } from '../../src/errors.ts';
import { packArchive } from '../../src/archive/pack.ts';
import { DEFAULT_UNPACK_LIMITS, unpackArchive, type UnpackLimits } from '../../src/archive/unpack.ts';

const MODEL_BYTES = Buffer.from('fake onnx bytes\n');

function manifestJson(model: Record<string, unknown> = {}): string {
  return JSON.stringify({
    createdOn: '01/01/2026 00:00:00',
    runtime: 'node',
    archiverVersion: '0.1.0',
    model: { modelName: 'm', modelVersion: '1.0', handler: 'tensor', serializedFile: 'model.onnx', ...model },
  });
}

interface Entry {
  name: string;
  data?: Buffer | string;
  attr?: number;
}

let root: string;
let target: string;

/** Writes a zip with a valid manifest and model plus `entries` (names set raw, after adm-zip's clean-up). */
async function craft(entries: Entry[], opts: { manifest?: string | null; file?: string } = {}): Promise<string> {
  const zip = new AdmZip();
  if (opts.manifest !== null) zip.addFile('MAR-INF/MANIFEST.json', Buffer.from(opts.manifest ?? manifestJson()));
  zip.addFile('model.onnx', MODEL_BYTES);
  entries.forEach((e, i) => {
    const entry = zip.addFile(`placeholder-${i}`, Buffer.from(e.data ?? 'x'));
    entry.entryName = e.name;
    if (e.attr !== undefined) entry.attr = e.attr;
  });
  const file = path.join(root, opts.file ?? 'crafted.mar');
  await fs.writeFile(file, zip.toBuffer());
  return file;
}

/** Expects unpacking to fail with InvalidArchive naming the archive and `parts`, and nothing left behind. */
async function refused(archive: string, parts: string[], limits?: Partial<UnpackLimits>): Promise<ServeError> {
  const before = (await fs.readdir(root)).sort();
  let caught: unknown;
  try {
    await unpackArchive(archive, target, limits);
  } catch (e) {
    caught = e;
  }
  expect(caught, 'unpack should fail').to.be.instanceOf(ServeError);
  const err = caught as ServeError;
  expect(err.kind).to.equal('InvalidArchive');
  for (const p of [archive, ...parts]) expect(err.message).to.include(p);
  expect((await fs.readdir(root)).sort(), 'nothing written beside the archive').to.deep.equal(before);
  expect(existsSync(target), 'target removed').to.equal(false);
  return err;
}

/** The offset of `name`'s central directory header in a zip. */
function centralHeader(buf: Buffer, name: string): number {
  for (let i = 0; i + 46 <= buf.length; i++) {
    if (buf.readUInt32LE(i) !== 0x02014b50) continue;
    const nameLen = buf.readUInt16LE(i + 28);
    if (buf.toString('utf8', i + 46, i + 46 + nameLen) === name) return i;
  }
  throw new Error(`no central header for ${name}`);
}

/** Rewrites the declared uncompressed size of `name` in both its local and central headers. */
function patchDeclaredSize(buf: Buffer, name: string, size: number): void {
  const at = centralHeader(buf, name);
  buf.writeUInt32LE(size, at + 24);
  buf.writeUInt32LE(size, buf.readUInt32LE(at + 42) + 22);
}

/** Flips the CRC-32 of `name` in its central header, as a damaged archive would carry it. */
function damageCrc(buf: Buffer, name: string): void {
  const at = centralHeader(buf, name);
  buf.writeUInt32LE((buf.readUInt32LE(at + 16) ^ 0xffffffff) >>> 0, at + 16);
}

describe('archive/unpack', () => {
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'unpack-test-'));
    target = path.join(root, 'target');
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('has sensible default limits', () => {
    expect(DEFAULT_UNPACK_LIMITS).to.deep.equal({ maxTotalBytes: 4 * 1024 ** 3, maxEntries: 10000, maxRatio: 200 });
  });

  it('unpacks an archive made by packArchive, with nested extra files', async () => {
    const src = path.join(root, 'src');
    await fs.mkdir(path.join(src, 'assets', 'sub'), { recursive: true });
    await fs.writeFile(path.join(src, 'model.onnx'), MODEL_BYTES);
    await fs.writeFile(path.join(src, 'h.js'), 'export default { handle: (r) => r };\n');
    await fs.writeFile(path.join(src, 'assets', 'sub', 'deep.txt'), 'deep');
    const mar = await packArchive({
      modelName: 'packed',
      version: '3.1',
      serializedFile: path.join(src, 'model.onnx'),
      handler: `${path.join(src, 'h.js')}:default`,
      extraFiles: [path.join(src, 'assets')],
      exportPath: root,
    });
    const { manifest, dir } = await unpackArchive(mar, target);
    expect(dir).to.equal(target);
    expect(manifest.model).to.deep.include({ modelName: 'packed', modelVersion: '3.1', handler: 'h.js:default' });
    expect(await fs.readFile(path.join(target, 'model.onnx'))).to.deep.equal(MODEL_BYTES);
    expect(await fs.readFile(path.join(target, 'sub', 'deep.txt'), 'utf8')).to.equal('deep');
    expect(existsSync(path.join(target, 'MAR-INF', 'MANIFEST.json'))).to.equal(true);
  });

  it('unpacks a no-archive folder by copying it', async () => {
    const src = path.join(root, 'src');
    await fs.mkdir(src);
    await fs.writeFile(path.join(src, 'model.onnx'), MODEL_BYTES);
    const folder = await packArchive({
      modelName: 'plain',
      version: '1',
      serializedFile: path.join(src, 'model.onnx'),
      handler: 'ocr',
      exportPath: root,
      archiveFormat: 'no-archive',
    });
    const { manifest } = await unpackArchive(folder, target);
    expect(manifest.model.modelName).to.equal('plain');
    expect((await fs.readdir(target)).sort()).to.deep.equal(['MAR-INF', 'model.onnx']);
    expect(await fs.readFile(path.join(target, 'model.onnx'))).to.deep.equal(MODEL_BYTES);
  });

  it('accepts an existing empty target and refuses a non-empty one', async () => {
    const mar = await craft([]);
    await fs.mkdir(target);
    await unpackArchive(mar, target);
    const other = path.join(root, 'other');
    await fs.mkdir(other);
    await fs.writeFile(path.join(other, 'keep.txt'), 'x');
    let caught: unknown;
    await unpackArchive(mar, other).catch((e: unknown) => (caught = e));
    expect(caught).to.be.instanceOf(ServeError);
    expect((caught as ServeError).message).to.include('not empty');
    expect(await fs.readdir(other)).to.deep.equal(['keep.txt']);
  });

  for (const name of ['../evil.txt', 'a/../../x', '..\\evil.txt', 'dir/../../../../tmp/evil.txt']) {
    it(`refuses an entry that escapes: ${name}`, async () => {
      await refused(await craft([{ name }]), [JSON.stringify(name), 'escapes']);
    });
  }

  for (const name of ['/abs.txt', '\\abs.txt', 'C:\\evil.txt', 'C:/evil.txt']) {
    it(`refuses an absolute entry: ${name}`, async () => {
      await refused(await craft([{ name }]), [JSON.stringify(name), 'absolute']);
      expect(existsSync('/abs.txt')).to.equal(false);
    });
  }

  it('refuses a symlink entry', async () => {
    const mar = await craft([{ name: 'link', data: '/etc/passwd', attr: (0o120777 << 16) >>> 0 }]);
    await refused(mar, ['"link"', 'symbolic link']);
  });

  it('refuses duplicate names, exact or after normalisation', async () => {
    await refused(await craft([{ name: './model.onnx', data: 'other' }]), ['"./model.onnx"', 'duplicates']);
    await refused(await craft([{ name: 'x.txt' }, { name: 'x.txt' }], { file: 'dup.mar' }), ['x.txt']);
  });

  it('refuses a name used both as a file and as a folder', async () => {
    await refused(await craft([{ name: 'model.onnx/inner.txt' }]), ['"model.onnx"', 'folder']);
  });

  it('refuses too many entries', async () => {
    const mar = await craft([{ name: 'a.txt' }, { name: 'b.txt' }, { name: 'c.txt' }]);
    await refused(mar, ['5 entries', 'limit of 4'], { maxEntries: 4 });
  });

  it('refuses a zip bomb by its declared size', async () => {
    const mar = await craft([{ name: 'zeros.bin', data: Buffer.alloc(50 * 1024 * 1024) }]);
    await refused(mar, ['"zeros.bin"', 'declared uncompressed size', 'limit of 10485760'], { maxTotalBytes: 10 * 1024 * 1024 });
  });

  it('refuses a zip bomb by its compression ratio with the default limits', async () => {
    const mar = await craft([{ name: 'zeros.bin', data: Buffer.alloc(50 * 1024 * 1024) }]);
    await refused(mar, ['"zeros.bin"', 'compression ratio', 'limit of 200:1']);
  });

  /** An archive whose entry zz-liar.bin declares 10 bytes but inflates to 200,000. */
  async function liarArchive(): Promise<string> {
    const zip = new AdmZip();
    zip.addFile('MAR-INF/MANIFEST.json', Buffer.from(manifestJson()));
    zip.addFile('model.onnx', MODEL_BYTES);
    zip.addFile('zz-liar.bin', Buffer.alloc(200_000));
    const buf = zip.toBuffer();
    patchDeclaredSize(buf, 'zz-liar.bin', 10);
    const mar = path.join(root, 'liar.mar');
    await fs.writeFile(mar, buf);
    return mar;
  }

  it('stops when an entry inflates past its declared size, removing what was written', async () => {
    const mar = await liarArchive();
    await refused(mar, ['"zz-liar.bin"', 'declared 10 bytes']);
  });

  it('refuses an entry whose bytes fail the CRC-32 check', async () => {
    const zip = new AdmZip();
    zip.addFile('MAR-INF/MANIFEST.json', Buffer.from(manifestJson()));
    zip.addFile('model.onnx', MODEL_BYTES);
    const buf = zip.toBuffer();
    damageCrc(buf, 'model.onnx');
    const mar = path.join(root, 'damaged.mar');
    await fs.writeFile(mar, buf);
    await refused(mar, ['"model.onnx"', 'CRC-32']);
  });

  it('refuses an entry whose compressed bytes are damaged, without hanging', async () => {
    const zip = new AdmZip();
    zip.addFile('MAR-INF/MANIFEST.json', Buffer.from(manifestJson()));
    zip.addFile('model.onnx', MODEL_BYTES);
    zip.addFile('zz-text.txt', Buffer.from('a line of text that deflates well\n'.repeat(2000)));
    const buf = zip.toBuffer();
    const local = buf.readUInt32LE(centralHeader(buf, 'zz-text.txt') + 42);
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    buf.fill(0xff, dataStart, dataStart + 16);
    const mar = path.join(root, 'garbled.mar');
    await fs.writeFile(mar, buf);
    await refused(mar, ['"zz-text.txt"', 'cannot be read']);
  });

  it('removes only its own files from an existing empty target on failure', async () => {
    const mar = await liarArchive();
    await fs.mkdir(target);
    await unpackArchive(mar, target).catch(() => undefined);
    expect(await fs.readdir(target)).to.deep.equal([]);
  });

  it('requires a manifest', async () => {
    await refused(await craft([], { manifest: null }), ['MAR-INF/MANIFEST.json']);
  });

  it('refuses a manifest that is not JSON or not valid', async () => {
    await refused(await craft([], { manifest: '{nope' }), ['MANIFEST.json', 'not valid JSON']);
    await refused(await craft([], { manifest: manifestJson({ modelName: 'bad name' }), file: 'b.mar' }), ['model.modelName']);
    await refused(await craft([], { manifest: manifestJson({ handler: '../h.js' }), file: 'c.mar' }), ['model.handler']);
  });

  it('refuses a manifest that names files missing from the archive', async () => {
    await refused(await craft([], { manifest: manifestJson({ serializedFile: 'other.onnx' }) }), ['model.serializedFile', 'other.onnx']);
    await refused(await craft([], { manifest: manifestJson({ handler: 'h.js:X' }), file: 'h.mar' }), ['model.handler', 'h.js']);
    await refused(await craft([], { manifest: manifestJson({ configFile: 'c.yaml' }), file: 'c.mar' }), ['model.configFile', 'c.yaml']);
  });

  it('refuses a file that is not a zip', async () => {
    const bogus = path.join(root, 'bogus.mar');
    await fs.writeFile(bogus, 'not a zip at all');
    await refused(bogus, ['zip']);
  });

  it('refuses a no-archive folder holding a symlink', async () => {
    const folder = path.join(root, 'folder');
    await fs.mkdir(path.join(folder, 'MAR-INF'), { recursive: true });
    await fs.writeFile(path.join(folder, 'MAR-INF', 'MANIFEST.json'), manifestJson());
    await fs.writeFile(path.join(folder, 'model.onnx'), MODEL_BYTES);
    await fs.symlink('/etc/passwd', path.join(folder, 'passwd'));
    await refused(folder, ['"passwd"', 'symbolic link']);
  });

  it('refuses a no-archive folder over the size limit or without a manifest', async () => {
    const folder = path.join(root, 'folder');
    await fs.mkdir(path.join(folder, 'MAR-INF'), { recursive: true });
    await fs.writeFile(path.join(folder, 'model.onnx'), Buffer.alloc(1000));
    await refused(folder, ['MAR-INF/MANIFEST.json']);
    await fs.writeFile(path.join(folder, 'MAR-INF', 'MANIFEST.json'), manifestJson());
    await refused(folder, ['"model.onnx"', 'limit of 500'], { maxTotalBytes: 500 });
  });
});
