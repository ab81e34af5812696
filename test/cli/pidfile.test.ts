/**
 * One pid file per configuration (issue 15, point 4): a server started from one folder does not block a start
 * from another folder on other ports, and `--stop` there stops its own server and says which it stopped.
 * The default pid file lives in the temp folder; the test points TMPDIR at its own folder.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defaultPidFile, isAlive } from '../../src/cli/pidfile.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelserver = path.join(ROOT, 'bin', 'modelserver.js');

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((r) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => r(s)); })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

describe('the default pid file is keyed to the configured addresses', function () {
  let root: string;
  let env: NodeJS.ProcessEnv;
  const folders: string[] = [];

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-pid-'));
    await fs.mkdir(path.join(root, 'tmp'));
    env = { ...process.env, TMPDIR: path.join(root, 'tmp') };
    delete env.MS_PID_FILE;
    const ports = await freePorts(6);
    for (const [i, name] of ['a', 'b'].entries()) {
      const dir = path.join(root, name);
      await fs.mkdir(path.join(dir, 'model_store'), { recursive: true });
      const [inf, mgmt, met] = ports.slice(i * 3, i * 3 + 3);
      await fs.writeFile(
        path.join(dir, 'config.properties'),
        `inference_address=http://127.0.0.1:${inf}\nmanagement_address=http://127.0.0.1:${mgmt}\nmetrics_address=http://127.0.0.1:${met}\ngrpc_inference_port=0\ngrpc_management_port=0\nmodel_store=model_store\n`,
      );
      folders.push(dir);
    }
  });
  after(async () => {
    for (const dir of folders) await run(process.execPath, [modelserver, '--stop'], { cwd: dir, env }).catch(() => undefined);
    await fs.rm(root, { recursive: true, force: true });
  });

  it('two folders, two servers; --stop in one stops that one and names it', async () => {
    const [a, b] = folders;
    const startA = await run(process.execPath, [modelserver, '--start', '--ncs'], { cwd: a, env });
    expect(startA.stdout).to.contain('modelserver started');
    const startB = await run(process.execPath, [modelserver, '--start', '--ncs'], { cwd: b, env });
    expect(startB.stdout).to.contain('modelserver started');

    const pidFiles = (await fs.readdir(path.join(root, 'tmp'))).filter((f) => f.endsWith('.pid'));
    expect(pidFiles).to.have.length(2);
    const infos = await Promise.all(pidFiles.map(async (f) => JSON.parse(await fs.readFile(path.join(root, 'tmp', f), 'utf8')) as { pid: number; cwd: string }));
    const pidOf = (dir: string) => infos.find((i) => i.cwd === dir)!.pid;

    const again = await run(process.execPath, [modelserver, '--start', '--ncs'], { cwd: a, env }).catch((e: { code: number; stderr: string }) => e);
    expect((again as { code: number }).code).to.equal(1);
    expect(again.stderr).to.contain('already running').and.contain(`started in ${a}`);

    const stopped = await run(process.execPath, [modelserver, '--stop'], { cwd: a, env });
    expect(stopped.stdout).to.contain(`modelserver stopped (pid ${pidOf(a)}`).and.contain(`started in ${a}`);
    expect(isAlive(pidOf(a))).to.equal(false);
    expect(isAlive(pidOf(b))).to.equal(true);
    const stoppedB = await run(process.execPath, [modelserver, '--stop'], { cwd: b, env });
    expect(stoppedB.stdout).to.contain(`started in ${b}`);
    expect(await fs.readdir(path.join(root, 'tmp'))).to.deep.equal([]);
  });

  it('MS_PID_FILE still wins', () => {
    const saved = process.env.MS_PID_FILE;
    process.env.MS_PID_FILE = '/somewhere/ms.pid';
    try {
      expect(defaultPidFile(['http://127.0.0.1:8080'])).to.equal('/somewhere/ms.pid');
    } finally {
      if (saved === undefined) delete process.env.MS_PID_FILE;
      else process.env.MS_PID_FILE = saved;
    }
  });
});
