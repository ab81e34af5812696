/**
 * Safe unpacking of a `.mar` (zip) or a no-archive folder into an empty target folder. Everything is checked
 * before anything is written: entry names (no escapes, no absolute paths), links, duplicates, entry count,
 * declared sizes and compression ratios, and the manifest; bytes are counted again while extracting. On any
 * failure what was written is removed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import AdmZip from 'adm-zip';
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

const inflateRaw = promisify(zlib.inflateRaw);

/**
 * The bytes of a zip entry: inflated on libuv's thread pool and checked against the central directory's CRC-32
 * with zlib's native crc32 (adm-zip's own reader checks it in JavaScript, which took over half of unpacking a
 * 45 MB model). Output is capped at the declared size, so an entry that lies about its size stops there.
 */
async function readEntry(entry: AdmZip.IZipEntry): Promise<Buffer> {
  const { size, crc, method } = entry.header;
  const stored = entry.getCompressedData();
  let data: Buffer;
  if (method === 0) {
    data = stored;
  } else {
    try {
      data = await inflateRaw(stored, { maxOutputLength: Math.max(1, size) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new Error(`inflates past its declared ${size} bytes`);
      throw e;
    }
  }
  if (data.length !== size) throw new Error(`holds ${data.length} bytes, not its declared ${size}`);
  if ((zlib.crc32(data) >>> 0) !== (crc >>> 0)) throw new Error('fails its CRC-32 check (the archive is damaged)');
  return data;
}

function zipItems(source: string, limits: UnpackLimits): Item[] {
  let entries: AdmZip.IZipEntry[];
  try {
    entries = new AdmZip(source).getEntries();
  } catch (e) {
    fail(source, `is not a readable zip archive: ${(e as Error).message ?? String(e)}`);
  }
  if (entries.length > limits.maxEntries) {
    const past = entries[limits.maxEntries].entryName;
    fail(source, `has ${entries.length} entries, more than the limit of ${limits.maxEntries} (at entry ${JSON.stringify(past)})`);
  }
  let total = 0;
  return entries.map((entry): Item => {
    const raw = entry.entryName;
    const name = safeName(source, raw);
    const type = ((entry.attr >>> 16) & S_IFMT) >>> 0;
    if (type === S_IFLNK) entryFail(source, raw, 'is a symbolic link');
    if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) entryFail(source, raw, 'is not a regular file or folder');
    const { size, compressedSize, method, flags } = entry.header;
    if (entry.isDirectory) return { name, raw, dir: true, size: 0, read: async () => Buffer.alloc(0) };
    if (flags & 1) entryFail(source, raw, 'is encrypted');
    if (method !== 0 && method !== 8) entryFail(source, raw, `uses unsupported compression method ${method}`);
    total += size;
    if (total > limits.maxTotalBytes) {
      entryFail(source, raw, `brings the declared uncompressed size to ${total} bytes, over the limit of ${limits.maxTotalBytes}`);
    }
    if (size >= RATIO_MIN_BYTES && size > limits.maxRatio * compressedSize) {
      const ratio = compressedSize === 0 ? 'infinite' : `${Math.round(size / compressedSize)}:1`;
      entryFail(source, raw, `has a compression ratio of ${ratio}, over the limit of ${limits.maxRatio}:1`);
    }
    const read = () => readEntry(entry);
    return { name, raw, dir: false, size, read };
  });
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
        items.push({ name, raw, dir: true, size: 0, read: async () => Buffer.alloc(0) });
        await walk(full, raw);
      } else if (st.isFile()) {
        total += st.size;
        if (total > limits.maxTotalBytes) {
          entryFail(source, raw, `brings the total size to ${total} bytes, over the limit of ${limits.maxTotalBytes}`);
        }
        items.push({ name, raw, dir: false, size: st.size, read: () => fs.readFile(full) });
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
    let data: Buffer;
    try {
      data = await item.read();
    } catch (e) {
      entryFail(source, item.raw, `cannot be read: ${(e as Error).message}`);
    }
    if (data.length > item.size) entryFail(source, item.raw, `is larger than its declared ${item.size} bytes`);
    actual += data.length;
    if (actual > limits.maxTotalBytes) {
      entryFail(source, item.raw, `brings the extracted size past the limit of ${limits.maxTotalBytes} bytes`);
    }
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await fs.writeFile(dest, data, { flag: 'wx' });
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
): Promise<{ manifest: Manifest; dir: string }> {
  const lim = fillLimits(limits);
  const target = path.resolve(targetDir);
  const state = await targetState(source, target);
  const st = await fs.stat(source).catch(() => null);
  if (st === null) fail(source, 'not found');
  const items = st.isDirectory() ? await folderItems(source, lim) : zipItems(source, lim);
  const files = checkNames(source, items);
  const manifest = await readManifest(source, items, files);

  await fs.mkdir(target, { recursive: true });
  try {
    await extract(source, target, items, lim);
  } catch (e) {
    if (state === 'missing') await fs.rm(target, { recursive: true, force: true });
    else for (const name of await fs.readdir(target)) await fs.rm(path.join(target, name), { recursive: true, force: true });
    throw e;
  }
  return { manifest, dir: target };
}
