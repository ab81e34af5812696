/**
 * Token keys for the inference and management APIs, kept in TorchServe's `key_file.json` shape:
 * `{"management":{"key","expiration time"},"inference":{"key","expiration time"},"API":{"key"}}`.
 * Keys are 24 random bytes in URL-safe base64 (32 characters; TorchServe uses 6 bytes). The management and
 * inference keys expire `token_expiration_min` after they were made; the API key, which only replaces the other
 * two (`GET /token`), does not expire. The file is written with mode 0600 through a temporary file and a rename.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ServeError } from '../errors.ts';

export type KeyKind = 'inference' | 'management' | 'API';
export type Replaceable = Exclude<KeyKind, 'API'>;

export interface KeyEntry {
  readonly key: string;
  /** Milliseconds since the epoch; undefined for the API key. */
  readonly expiresAt?: number;
}

export type Verdict = { ok: true } | { ok: false; reason: 'missing' | 'wrong' | 'expired'; expiredAt?: number };

export interface TokenStoreOptions {
  file: string;
  expirationMin: number;
  /** The clock for expiry, ms since the epoch (tests inject one). */
  now?: () => number;
}

/** Bytes of entropy per key. */
export const KEY_BYTES = 24;

const newKey = () => randomBytes(KEY_BYTES).toString('base64url');
const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of a presented token with a key. */
function same(presented: string, key: string): boolean {
  return timingSafeEqual(digest(presented), digest(key));
}

export class TokenStore {
  private readonly keys: Record<KeyKind, KeyEntry>;
  private readonly now: () => number;
  private removed = false;
  private writing: Promise<void> = Promise.resolve();

  private constructor(readonly file: string, private readonly ttlMs: number, now: () => number) {
    this.now = now;
    const at = now() + ttlMs;
    this.keys = { management: { key: newKey(), expiresAt: at }, inference: { key: newKey(), expiresAt: at }, API: { key: newKey() } };
  }

  /** Makes fresh keys and writes the key file (replacing any file at that path). */
  static async create(opts: TokenStoreOptions): Promise<TokenStore> {
    const store = new TokenStore(path.resolve(opts.file), opts.expirationMin * 60_000, opts.now ?? Date.now);
    await store.write();
    return store;
  }

  /** The key entry (for tests and the /token answer). */
  entry(kind: KeyKind): KeyEntry {
    return this.keys[kind];
  }

  /** Checks a presented token (undefined when none was sent) against the key of `kind`. */
  verify(kind: KeyKind, presented: string | undefined): Verdict {
    if (presented === undefined || presented === '') return { ok: false, reason: 'missing' };
    const { key, expiresAt } = this.keys[kind];
    if (!same(presented, key)) return { ok: false, reason: 'wrong' };
    if (expiresAt !== undefined && this.now() >= expiresAt) return { ok: false, reason: 'expired', expiredAt: expiresAt };
    return { ok: true };
  }

  /** Replaces the inference or management key with a new one that expires a full period from now. */
  async replace(kind: Replaceable): Promise<KeyEntry> {
    const before = this.keys[kind];
    this.keys[kind] = { key: newKey(), expiresAt: this.now() + this.ttlMs };
    try {
      await this.write();
    } catch (err) {
      this.keys[kind] = before; // the file still holds the old key, so the old key stays valid
      throw err;
    }
    return this.keys[kind];
  }

  /** TorchServe's key file JSON. */
  toJSON(): Record<string, Record<string, string>> {
    const timed = (e: KeyEntry) => ({ key: e.key, 'expiration time': new Date(e.expiresAt!).toISOString() });
    return { management: timed(this.keys.management), inference: timed(this.keys.inference), API: { key: this.keys.API.key } };
  }

  /** Removes the key file if it still holds this store's keys (another server may have replaced it since). */
  async remove(): Promise<void> {
    this.removed = true;
    await this.writing;
    let current: unknown;
    try {
      current = JSON.parse(await fs.readFile(this.file, 'utf8'));
    } catch {
      return; // gone or not ours to judge
    }
    if ((current as { API?: { key?: unknown } })?.API?.key === this.keys.API.key) await fs.rm(this.file, { force: true });
  }

  /** Writes are serialised so that two quick replacements cannot interleave. */
  private write(): Promise<void> {
    const run = this.writing.then(() => (this.removed ? undefined : this.writeNow()));
    this.writing = run.catch(() => {});
    return run;
  }

  private async writeNow(): Promise<void> {
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      // 'wx' never follows or reuses an existing file; the rename replaces a link at `file`, never its target.
      await fs.writeFile(tmp, `${JSON.stringify(this.toJSON(), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      await fs.chmod(tmp, 0o600); // in case the umask took more than group and other bits
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw new ServeError(
        'InternalServerError',
        `cannot write the token key file ${this.file}: ${(err as Error).message}; set key_file to a writable path`,
        { cause: err },
      );
    }
  }
}
