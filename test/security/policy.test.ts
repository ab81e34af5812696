import { expect } from 'chai';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/modelserver.ts';
import { address } from '../../src/config/keys.ts';
import { loadConfig } from '../../src/config/config.ts';
import { ServeError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { securityPlan, type ExposureConfig } from '../../src/security/policy.ts';
import { startServer } from '../../src/server.ts';

const LOOP = 'http://127.0.0.1:8080';
const OPEN = 'http://0.0.0.0:8081';

function plan(inference: string, management: string, disable?: boolean, allow = false) {
  const c: ExposureConfig = {
    inferenceAddress: address(inference),
    managementAddress: address(management),
    disableTokenAuthorization: disable,
    allowUnauthenticatedManagement: allow,
  };
  return securityPlan(c);
}

describe('security: who needs tokens, and when the start is refused', () => {
  it('decides tokens from disable_token_authorization, else from the listeners\' addresses', () => {
    const rows: [string, string, boolean | undefined, boolean][] = [
      [LOOP, 'http://localhost:8081', undefined, false], // a laptop: no tokens
      ['http://[::1]:8080', 'http://127.0.0.2:8081', undefined, false],
      [OPEN, 'http://127.0.0.1:8081', undefined, true], // inference exposed: tokens everywhere
      [LOOP, OPEN, undefined, true],
      ['http://10.1.2.3:8080', 'http://[::]:8081', undefined, true],
      ['http://my-host:8080', LOOP, undefined, true], // a name other than localhost counts as exposed
      [LOOP, LOOP, false, true], // false: on everywhere
      [OPEN, OPEN, false, true],
      [LOOP, LOOP, true, false],
      [OPEN, LOOP, true, false], // an open inference API is the user's call (with a warning)
    ];
    for (const [inf, mgmt, disable, tokens] of rows) {
      expect(plan(inf, mgmt, disable).tokens, `${inf} ${mgmt} ${disable}`).to.equal(tokens);
    }
    expect(plan(OPEN, LOOP, true).warning).to.contain('inference API on http://0.0.0.0:8081');
    expect(plan(LOOP, LOOP).warning).to.equal(undefined);
  });

  it('refuses a management API on a non-loopback address without tokens unless allow_unauthenticated_management', () => {
    for (const mgmt of [OPEN, 'http://[::]:8081', 'http://192.168.1.5:8081']) {
      let err: unknown;
      try {
        plan(LOOP, mgmt, true);
      } catch (e) {
        err = e;
      }
      expect(err, mgmt).to.be.instanceOf(ServeError);
      const msg = (err as Error).message;
      expect(msg).to.contain(`management_address ${mgmt}`).and.contain('disable_token_authorization');
      expect(msg).to.contain('management_address=http://127.0.0.1:8081').and.contain('allow_unauthenticated_management=true');
    }
    const allowed = plan(LOOP, OPEN, true, true);
    expect(allowed.tokens).to.equal(false);
    expect(allowed.warning).to.contain('allow_unauthenticated_management=true');
    // allow_unauthenticated_management does not turn tokens off by itself.
    expect(plan(LOOP, OPEN, undefined, true).tokens).to.equal(true);
  });

  describe('a real start', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-refuse-'));
    });
    afterEach(() => fs.rm(dir, { recursive: true, force: true }));

    const props = (extra: Record<string, string>) => ({
      inference_address: 'http://127.0.0.1:0',
      management_address: 'http://0.0.0.0:0',
      metrics_address: 'http://127.0.0.1:0',
      key_file: path.join(dir, 'key_file.json'),
      ...extra,
    });

    it('startServer throws before listening or writing anything', async () => {
      const config = loadConfig({ cli: props({ disable_token_authorization: 'true' }), env: {}, cwd: dir });
      const err = await startServer(config, { log: createLogger('silent'), workDirParent: dir }).catch((e: Error) => e);
      expect(err).to.be.instanceOf(ServeError);
      expect((err as Error).message).to.contain('refusing to start: management_address http://0.0.0.0:0');
      expect(await fs.readdir(dir)).to.deep.equal([]);
    });

    it('the CLI exits non-zero with the message naming the address and the fix', async () => {
      const configFile = path.join(dir, 'config.properties');
      const lines = Object.entries(props({ disable_token_authorization: 'true' })).map(([k, v]) => `${k}=${v}`);
      await fs.writeFile(configFile, `${lines.join('\n')}\n`);
      const pidFile = path.join(dir, 'modelserver.pid');
      let stderr = '';
      const write = process.stderr.write;
      process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
      let code: number;
      try {
        code = await main(['--foreground', '--ncs', '--ts-config', configFile, '--pid-file', pidFile]);
      } finally {
        process.stderr.write = write;
      }
      expect(code).to.equal(1);
      expect(stderr).to.contain('error: refusing to start: management_address http://0.0.0.0:0').and.contain('allow_unauthenticated_management=true');
      expect((await fs.readdir(dir)).sort()).to.deep.equal(['config.properties']);
    });
  });
});
