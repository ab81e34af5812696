/**
 * Fetching an archive named by URL, only where `allowed_urls` permits: every redirect is checked again, the
 * size is limited while streaming, and the bytes go to a temporary file renamed into place when complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { ServeError } from '../errors.ts';

export interface DownloadOptions {
  allowed: readonly RegExp[];
  /** Largest archive accepted, in bytes. */
  maxBytes: number;
  maxRedirects?: number;
}

export function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

export function checkAllowed(url: string, allowed: readonly RegExp[]): void {
  if (!allowed.some((re) => re.test(url))) {
    throw new ServeError('BadRequest', `URL not permitted by allowed_urls: ${url}`);
  }
}

/** The archive file name a URL stands for: the last path segment, which must be a plain `.mar` name. */
export function archiveNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*\.mar$/.test(name)) {
    throw new ServeError('BadRequest', `cannot take an archive name from ${url}: the path must end in a name like model.mar`);
  }
  return name;
}

/** Downloads `url` to `dest` (which must not exist). */
export async function downloadArchive(url: string, dest: string, opts: DownloadOptions): Promise<void> {
  let current = url;
  for (let hop = 0; ; hop++) {
    checkAllowed(current, opts.allowed);
    const u = new URL(current);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new ServeError('BadRequest', `cannot download ${current}: only http and https URLs are fetched`);
    }
    let res: Response;
    try {
      res = await fetch(current, { redirect: 'manual', signal: AbortSignal.timeout(120_000) });
    } catch (err) {
      throw new ServeError('BadRequest', `cannot download ${current}: ${(err as Error).message}`);
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.body?.cancel();
      if (hop >= (opts.maxRedirects ?? 5)) throw new ServeError('BadRequest', `too many redirects from ${url}`);
      current = new URL(res.headers.get('location')!, current).href;
      continue;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new ServeError('BadRequest', `cannot download ${current}: HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > opts.maxBytes) {
      await res.body.cancel();
      throw new ServeError('BadRequest', `${current} is ${declared} bytes, over the ${opts.maxBytes}-byte limit`);
    }
    await save(res.body, dest, current, opts.maxBytes);
    return;
  }
}

async function save(body: ReadableStream<Uint8Array>, dest: string, url: string, maxBytes: number): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.download`);
  let seen = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > maxBytes) cb(new ServeError('BadRequest', `${url} is over the ${maxBytes}-byte limit`));
      else cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(body as never), limit, fs.createWriteStream(tmp, { flags: 'wx' }));
    fs.renameSync(tmp, dest);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err instanceof ServeError ? err : new ServeError('BadRequest', `cannot download ${url}: ${(err as Error).message}`);
  }
}

/**
 * Turns a registration `url` into an archive name in the model store: a plain name is used as it is; a URL must
 * match `allowed_urls` and is downloaded into the store under its file name (an existing file is a conflict).
 */
export function urlResolver(inStore: (name: string) => string, opts: DownloadOptions): (url: string) => Promise<string> {
  return async (url) => {
    if (!isUrl(url)) return url;
    checkAllowed(url, opts.allowed);
    const name = archiveNameOf(url);
    const dest = inStore(name);
    if (fs.existsSync(dest)) {
      throw new ServeError('Conflict', `${name} already exists in the model store; register it by name or remove it first`);
    }
    await downloadArchive(url, dest, opts);
    return name;
  };
}
