import { expect } from 'chai';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KEY_BYTES, TokenStore } from '../../src/security/tokens.ts';

describe('security/TokenStore', () => {
  let dir: string;
  let file: string;
  let now: number;
  const clock = () => now;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-tokens-'));
    file = path.join(dir, 'key_file.json');
    now = 1_000_000;
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('makes three different keys of at least 16 random bytes each', async () => {
    expect(KEY_BYTES).to.be.at.least(16);
    const a = await TokenStore.create({ file, expirationMin: 1, now: clock });
    const b = await TokenStore.create({ file: path.join(dir, 'b.json'), expirationMin: 1, now: clock });
    const keys = [a, b].flatMap((s) => (['API', 'inference', 'management'] as const).map((k) => s.entry(k).key));
    expect(new Set(keys).size).to.equal(6);
    for (const k of keys) expect(Buffer.from(k, 'base64url')).to.have.length(KEY_BYTES);
  });

  it('writes the file with mode 0600 over an existing world-readable file', async () => {
    await fs.writeFile(file, '{}', { mode: 0o644 });
    const s = await TokenStore.create({ file, expirationMin: 1, now: clock });
    if (process.platform !== 'win32') expect((await fs.stat(file)).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).to.deep.equal(s.toJSON());
  });

  it('replaces a link at its path rather than writing through it to the target', async () => {
    const target = path.join(dir, 'target.txt');
    await fs.writeFile(target, 'keep me', { mode: 0o644 });
    await fs.symlink(target, file);
    const s = await TokenStore.create({ file, expirationMin: 1, now: clock });
    const st = await fs.lstat(file);
    expect(st.isFile()).to.equal(true);
    if (process.platform !== 'win32') expect(st.mode & 0o777).to.equal(0o600);
    expect(await fs.readFile(target, 'utf8')).to.equal('keep me');
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).to.deep.equal(s.toJSON());
    expect((await fs.readdir(dir)).sort()).to.deep.equal(['key_file.json', 'target.txt']); // no temporary file left
  });

  it('tells missing, wrong, right and expired apart; the API key never expires', async () => {
    const s = await TokenStore.create({ file, expirationMin: 2, now: clock });
    const key = s.entry('inference').key;
    expect(s.verify('inference', undefined)).to.deep.equal({ ok: false, reason: 'missing' });
    expect(s.verify('inference', '')).to.deep.equal({ ok: false, reason: 'missing' });
    expect(s.verify('inference', `${key}x`)).to.deep.equal({ ok: false, reason: 'wrong' });
    expect(s.verify('inference', s.entry('management').key)).to.deep.equal({ ok: false, reason: 'wrong' });
    expect(s.verify('inference', key)).to.deep.equal({ ok: true });
    now += 2 * 60_000 - 1;
    expect(s.verify('inference', key)).to.deep.equal({ ok: true });
    now += 1;
    expect(s.verify('inference', key)).to.deep.equal({ ok: false, reason: 'expired', expiredAt: now });
    now += 365 * 24 * 3600_000;
    expect(s.verify('API', s.entry('API').key)).to.deep.equal({ ok: true });
  });

  it('replaces one key with a full period ahead and rewrites the file; quick replacements do not interleave', async () => {
    const s = await TokenStore.create({ file, expirationMin: 1, now: clock });
    const old = s.entry('management');
    now += 30_000;
    const [m, i] = await Promise.all([s.replace('management'), s.replace('inference')]);
    expect(m.key).to.not.equal(old.key);
    expect(m.expiresAt).to.equal(now + 60_000);
    expect(s.verify('management', old.key).ok).to.equal(false);
    const onDisk = JSON.parse(await fs.readFile(file, 'utf8'));
    expect([onDisk.management.key, onDisk.inference.key]).to.deep.equal([m.key, i.key]);
  });

  it('removes the file only while it holds its own keys', async () => {
    const a = await TokenStore.create({ file, expirationMin: 1, now: clock });
    const b = await TokenStore.create({ file, expirationMin: 1, now: clock }); // another server, same path
    await a.remove();
    expect(JSON.parse(await fs.readFile(file, 'utf8')).API.key).to.equal(b.entry('API').key);
    await b.remove();
    expect(await fs.readdir(dir)).to.deep.equal([]);
    await b.remove(); // already gone: no error
  });

  it('names the file and the fix when it cannot be written', async () => {
    const bad = path.join(dir, 'no-such-folder', 'key_file.json');
    const err = await TokenStore.create({ file: bad, expirationMin: 1 }).catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.contain(bad).and.contain('set key_file to a writable path');
  });
});
