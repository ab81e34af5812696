import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.ts';
import { KEYS } from '../../src/config/keys.ts';
import { ServeError } from '../../src/errors.ts';

describe('config: key_file and allow_unauthenticated_management', () => {
  let dir: string;
  let warnings: string[];
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ms-config-sec-'));
    warnings = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const load = (cli: Record<string, string>) => loadConfig({ cli, env: {}, cwd: dir, warn: (m) => warnings.push(m) });

  it('are known keys, used by the server', () => {
    expect(KEYS.key_file).to.equal('used');
    expect(KEYS.allow_unauthenticated_management).to.equal('used');
  });

  it('default to ./key_file.json in the working folder and false', () => {
    const c = load({});
    expect(c.keyFile).to.equal(path.join(dir, 'key_file.json'));
    expect(c.allowUnauthenticatedManagement).to.equal(false);
    expect(warnings).to.deep.equal([]);
  });

  it('take a key_file relative to the working folder on the command line, and a boolean', () => {
    const c = load({ key_file: 'secrets/keys.json', allow_unauthenticated_management: 'TRUE' });
    expect(c.keyFile).to.equal(path.join(dir, 'secrets', 'keys.json'));
    expect(c.allowUnauthenticatedManagement).to.equal(true);
    expect(c.properties).to.include({ key_file: 'secrets/keys.json', allow_unauthenticated_management: 'TRUE' });
  });

  it('take a key_file relative to the config file\'s folder when written there', () => {
    const file = path.join(dir, 'config.properties');
    writeFileSync(file, 'key_file=keys/key_file.json\nallow_unauthenticated_management=false\n');
    const c = loadConfig({ configFile: file, env: {}, cwd: path.join(dir, 'elsewhere') });
    expect(c.keyFile).to.equal(path.join(dir, 'keys', 'key_file.json'));
    expect(c.allowUnauthenticatedManagement).to.equal(false);
  });

  it('refuses a value that is not a boolean, naming the key', () => {
    let err: unknown;
    try {
      load({ allow_unauthenticated_management: 'yes please' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ServeError);
    expect((err as Error).message).to.contain('allow_unauthenticated_management').and.contain('yes please');
  });
});
