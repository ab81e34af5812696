/**
 * Safe unpacking of a `.mar` (zip) or a no-archive folder into an empty target folder. Everything is checked
 * before anything is written: entry names (no escapes, no absolute paths), links, duplicates, entry count,
 * declared sizes and compression ratios, and the manifest; bytes are counted again while extracting. On any
 * failure what was written is removed.
 *
 * Zips are read with yauzl, entry by entry, from the file: an archive is never held in memory whole (a 45 MB
 * model's archive used to stay in the server's RSS until a major GC), entries inflate on libuv's thread pool,
 * and each is checked against its CRC-32 with zlib's native crc32 as it streams to disk.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { ServeError } from '../errors.ts';
import type { Manifest } from '../handler/contract.ts';
import { MANIFEST_PATH, filesNamedBy, validateManifest } from './manifest.ts';

export interface UnpackLimits {
  /** Total uncompressed bytes, declared and actual. */
  maxTotalBytes: number;
  maxEntries: number;
  /** Uncompressed / compressed size of one entry (checked for entries of at least RATIO_MIN_BYTES). */
  maxRatio: number;
}

export const DEFAULT_UNPACK_LIMITS: Readonly<UnpackLimits> = Object.freeze({
  maxTotalBytes: 4 * 1024 ** 3,
  maxEntries: 10_000,
  maxRatio: 200,
});

/** Entries smaller than this are not ratio-checked: small runs of zeros compress far better than 200:1. */
export const RATIO_MIN_BYTES = 1024 * 1024;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

interface Item {
  /** Normalised path inside the archive, without a trailing slash. */
  name: string;
  /** The name as the archive spells it (for messages). */
  raw: string;
  dir: boolean;
  size: number;
  read(): Promise<Buffer>;
  /** Writes the file's bytes to `dest` (which must not exist); resolves to the number of bytes written. */
  save(dest: string): Promise<number>;
}

function fail(source: string, message: string): never {
  throw new ServeError('InvalidArchive', `${source}: ${message}`);
}

function entryFail(source: string, raw: string, why: string): never {
  fail(source, `entry ${JSON.stringify(raw)} ${why}`);
}

function fillLimits(limits: Partial<UnpackLimits>): UnpackLimits {
  const filled = { ...DEFAULT_UNPACK_LIMITS, ...limits };
  for (const [key, value] of Object.entries(filled)) {
    if (typeof value !== 'number' || !(value > 0)) {
      throw new ServeError('BadRequest', `unpack limit ${key} must be a positive number`);
    }
  }
  return filled;
}

/** The normalised relative path of an entry, or an error naming the entry. */
function safeName(source: string, raw: string): string {
  if (raw.includes('\0')) entryFail(source, raw, 'has a NUL character in its name');
  const s = raw.replaceAll('\\', '/');
  if (s.startsWith('/') || /^[A-Za-z]:/.test(s)) entryFail(source, raw, 'is an absolute path');
  const norm = path.posix.normalize(s).replace(/\/+$/, '');
  if (norm === '..' || norm.startsWith('../')) entryFail(source, raw, 'escapes the target folder');
  if (norm === '' || norm === '.') entryFail(source, raw, 'has an empty name');
  return norm;
}

const CHUNK = 1024 * 1024;

/**
 * Counts and checksums an entry's bytes on their way through: more bytes than declared stop the stream there (an
 * entry that lies about its size), and at the end the count and the CRC-32 must match the central directory.
 */
function checked(size: number, crc: number): Transform {
  let count = 0;
  let sum = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      count += chunk.length;
      if (count > size) return done(new Error(`inflates past its declared ${size} bytes`));
      sum = zlib.crc32(chunk, sum);
      done(null, chunk);
    },
    flush(done) {
      if (count !== size) return done(new Error(`holds ${count} bytes, not its declared ${size}`));
      if (sum >>> 0 !== crc >>> 0) return done(new Error('fails its CRC-32 check (the archive is damaged)'));
      done();
    },
  });
}

/** Every entry of an open zip, in order; refuses more than `maxEntries` as soon as the count is known. */
async function readEntries(source: string, zip: yauzl.ZipFile, limits: UnpackLimits): Promise<yauzl.Entry[]> {
  const entries: yauzl.Entry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      if (entries.length === limits.maxEntries) {
        const past = entryName(entry);
        reject(new ServeError('InvalidArchive', `${source}: has ${zip.entryCount} entries, more than the limit of ${limits.maxEntries} (at entry ${JSON.stringify(past)})`));
        return;
      }
      entries.push(entry);
      zip.readEntry();
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return entries;
}

/** The entry's name as the archive means it: UTF-8 when flagged, the Info-ZIP Unicode path field, else CP437. */
function entryName(entry: yauzl.Entry): string {
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileName as unknown as Buffer, entry.extraFields, true);
}

async function zipItems(source: string, limits: UnpackLimits): Promise<{ items: Item[]; close: () => void }> {
  const unreadable = (e: unknown): never => {
    if (e instanceof ServeError) throw e;
    fail(source, `is not a readable zip archive: ${(e as Error).message ?? String(e)}`);
  };
  // decodeStrings off: names are checked here, with messages that name the entry, rather than by yauzl.
  const zip = await yauzl
    .openPromise(source, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: false })
    .catch(unreadable);
  const close = () => zip.close();
  let total = 0;
  try {
    const entries = await readEntries(source, zip, limits).catch(unreadable);
    const items = entries.map((entry): Item => {
      const raw = entryName(entry);
      const name = safeName(source, raw);
      const type = ((entry.externalFileAttributes >>> 16) & S_IFMT) >>> 0;
      if (type === S_IFLNK) entryFail(source, raw, 'is a symbolic link');
      if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) entryFail(source, raw, 'is not a regular file or folder');
      if (raw.endsWith('/')) return { name, raw, dir: true, size: 0, read: async () => Buffer.alloc(0), save: async () => 0 };
      const { uncompressedSize: size, compressedSize, compressionMethod: method } = entry;
      if (entry.isEncrypted()) entryFail(source, raw, 'is encrypted');
      if (method !== 0 && method !== 8) entryFail(source, raw, `uses unsupported compression method ${method}`);
      total += size;
      if (total > limits.maxTotalBytes) {
        entryFail(source, raw, `brings the declared uncompressed size to ${total} bytes, over the limit of ${limits.maxTotalBytes}`);
      }
      if (size >= RATIO_MIN_BYTES && size > limits.maxRatio * compressedSize) {
        const ratio = compressedSize === 0 ? 'infinite' : `${Math.round(size / compressedSize)}:1`;
        entryFail(source, raw, `has a compression ratio of ${ratio}, over the limit of ${limits.maxRatio}:1`);
      }
      // The entry's bytes straight from the file in 1 MiB reads (yauzl's own stream reads 16 KiB at a time, which
      // made unpacking a 45 MB model three times slower); yauzl has checked that they lie inside the file.
      const stages = async (): Promise<Array<Readable | Transform>> => {
        const check = checked(size, entry.crc32);
        if (compressedSize === 0) return [Readable.from([]), check];
        const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
        const bytes = createReadStream(source, { start: fileDataStart, end: fileDataStart + compressedSize - 1, highWaterMark: CHUNK });
        return method === 0 ? [bytes, check] : [bytes, zlib.createInflateRaw({ chunkSize: CHUNK }), check];
      };
      const read = async () => {
        const chunks: Buffer[] = [];
        await pipeline([...(await stages()), new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c), done()) })]);
        return Buffer.concat(chunks);
      };
      const save = async (dest: string) => {
        await pipeline([...(await stages()), createWriteStream(dest, { flags: 'wx' })]);
        return size;
      };
      return { name, raw, dir: false, size, read, save };
    });
    return { items, close };
  } catch (e) {
    close();
    throw e;
  }
}

async function folderItems(source: string, limits: UnpackLimits): Promise<Item[]> {
  const items: Item[] = [];
  let total = 0;
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entryName of (await fs.readdir(dir)).sort()) {
      const raw = rel === '' ? entryName : `${rel}/${entryName}`;
      const name = safeName(source, raw);
      const full = path.join(dir, entryName);
      const st = await fs.lstat(full);
      if (st.isSymbolicLink()) entryFail(source, raw, 'is a symbolic link');
      if (items.length >= limits.maxEntries) fail(source, `has more than ${limits.maxEntries} entries (at entry ${JSON.stringify(raw)})`);
      if (st.isDirectory()) {
        items.push({ name, raw, dir: true, size: 0, read: async () => Buffer.alloc(0), save: async () => 0 });
        await walk(full, raw);
      } else if (st.isFile()) {
        total += st.size;
        if (total > limits.maxTotalBytes) {
          entryFail(source, raw, `brings the total size to ${total} bytes, over the limit of ${limits.maxTotalBytes}`);
        }
        const save = async (dest: string) => {
          await fs.copyFile(full, dest, fs.constants.COPYFILE_EXCL);
          return (await fs.stat(dest)).size;
        };
        items.push({ name, raw, dir: false, size: st.size, read: () => fs.readFile(full), save });
      } else {
        entryFail(source, raw, 'is not a regular file or folder');
      }
    }
  };
  await walk(source, '');
  return items;
}

/** Refuses two entries with one normalised name, and a name used both as a file and as a folder. */
function checkNames(source: string, items: Item[]): Set<string> {
  const seen = new Map<string, Item>();
  const parents = new Set<string>();
  for (const item of items) {
    const prev = seen.get(item.name);
    if (prev !== undefined && !(item.dir && prev.dir)) {
      entryFail(source, item.raw, `duplicates entry ${JSON.stringify(prev.raw)}`);
    }
    seen.set(item.name, item);
    const parts = item.name.split('/');
    for (let i = 1; i < parts.length; i++) parents.add(parts.slice(0, i).join('/'));
  }
  const files = new Set<string>();
  for (const item of items) {
    if (item.dir) continue;
    if (parents.has(item.name)) entryFail(source, item.raw, 'is a file but other entries use it as a folder');
    files.add(item.name);
  }
  return files;
}

async function readManifest(source: string, items: Item[], files: Set<string>): Promise<Manifest> {
  const item = items.find((i) => i.name === MANIFEST_PATH && !i.dir);
  if (item === undefined) fail(source, `has no ${MANIFEST_PATH}`);
  let json: unknown;
  try {
    json = JSON.parse((await item.read()).toString('utf8').replace(/^\uFEFF/, ''));
  } catch (e) {
    fail(source, `${MANIFEST_PATH} is not valid JSON: ${(e as Error).message}`);
  }
  const manifest = validateManifest(json, source);
  for (const { field, file } of filesNamedBy(manifest)) {
    if (!files.has(file)) fail(source, `${MANIFEST_PATH}: ${field} names "${file}", which is not in the archive`);
  }
  return manifest;
}

/** 'missing' or 'empty'; anything else is refused. */
async function targetState(source: string, target: string): Promise<'missing' | 'empty'> {
  let names: string[];
  try {
    names = await fs.readdir(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new ServeError('BadRequest', `cannot unpack ${source}: target ${target} is not a readable folder`);
  }
  if (names.length > 0) throw new ServeError('BadRequest', `cannot unpack ${source}: target folder ${target} is not empty`);
  return 'empty';
}

async function extract(source: string, target: string, items: Item[], limits: UnpackLimits): Promise<void> {
  let actual = 0;
  for (const item of items) {
    const dest = path.resolve(target, ...item.name.split('/'));
    if (!dest.startsWith(target + path.sep)) entryFail(source, item.raw, 'escapes the target folder');
    if (item.dir) {
      await fs.mkdir(dest, { recursive: true });
      continue;
    }
    await fs.mkdir(path.dirname(dest), { recursive: true });
    let written: number;
    try {
      written = await item.save(dest);
    } catch (e) {
      entryFail(source, item.raw, `cannot be read: ${(e as Error).message}`);
    }
    if (written > item.size) entryFail(source, item.raw, `is larger than its declared ${item.size} bytes`);
    actual += written;
    if (actual > limits.maxTotalBytes) {
      entryFail(source, item.raw, `brings the extracted size past the limit of ${limits.maxTotalBytes} bytes`);
    }
  }
}

/**
 * Unpacks `source` (a `.mar` zip, or a folder in the no-archive layout) into `targetDir`, which must not exist
 * or be empty. Returns the validated manifest and the absolute target folder.
 */
export async function unpackArchive(
  source: string,
  targetDir: string,
  limits: Partial<UnpackLimits> = {},
  /** Called with the validated manifest before anything is written; throwing from it stops the unpacking. */
  onManifest?: (manifest: Manifest) => void,
): Promise<{ manifest: Manifest; dir: string }> {
  const lim = fillLimits(limits);
  const target = path.resolve(targetDir);
  const state = await targetState(source, target);
  const st = await fs.stat(source).catch(() => null);
  if (st === null) fail(source, 'not found');
  const { items, close } = st.isDirectory() ? { items: await folderItems(source, lim), close: () => {} } : await zipItems(source, lim);
  try {
    const files = checkNames(source, items);
    const manifest = await readManifest(source, items, files);
    onManifest?.(manifest);
    await fs.mkdir(target, { recursive: true });
    try {
      await extract(source, target, items, lim);
    } catch (e) {
      if (state === 'missing') await fs.rm(target, { recursive: true, force: true });
      else for (const name of await fs.readdir(target)) await fs.rm(path.join(target, name), { recursive: true, force: true });
      throw e;
    }
    return { manifest, dir: target };
  } finally {
    close();
  }
}
