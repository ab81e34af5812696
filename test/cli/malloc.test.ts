import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MALLOC_TUNABLES, serverEnv, tunedGlibcTunables } from '../../src/cli/malloc.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'modelserver.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const glibc = Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

/**
 * GLIBC_TUNABLES as /proc shows it. glibc cuts the string where it parsed it, so only the first setting (ours come
 * first) is visible there; that they all take effect is what the memory benchmark shows.
 */
function tunablesOf(pid: number): Map<string, string> {
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const value = env.find((e) => e.startsWith('GLIBC_TUNABLES='))?.slice('GLIBC_TUNABLES='.length) ?? '';
  return new Map(value.split(':').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function gone(pid: number, ms = 20_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) if (!alive(pid)) return true;
  return false;
}

describe('the server process runs with its malloc settings', function () {
  it('adds the settings to GLIBC_TUNABLES, keeping any the user set', () => {
    const fresh = new Map(tunedGlibcTunables(undefined).split(':').map((kv) => kv.split('=') as [string, string]));
    expect(Object.fromEntries(fresh)).to.deep.equal(MALLOC_TUNABLES);
    const mixed = tunedGlibcTunables('glibc.malloc.mmap_threshold=65536:glibc.cpu.x86_shstk=off');
    expect(mixed.split(':')).to.include.members([
      'glibc.malloc.mmap_threshold=65536',
      'glibc.cpu.x86_shstk=off',
      'glibc.malloc.trim_threshold=131072',
    ]);
    expect(mixed).not.to.contain('mmap_threshold=131072');
  });

  it('leaves the environment alone with MODELSERVER_MALLOC_TUNING=0', () => {
    const env = { MODELSERVER_MALLOC_TUNING: '0', PATH: '/bin' };
    expect(serverEnv(env)).to.equal(env);
  });

  describe('on glibc Linux', function () {
    let dir: string;
    let child: ChildProcess | undefined;
    before(async function () {
      if (!glibc) this.skip();
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-malloc-'));
      await fs.mkdir(path.join(dir, 'store'));
      await fs.writeFile(
        path.join(dir, 'config.properties'),
        'inference_address=http://127.0.0.1:0\nmanagement_address=http://127.0.0.1:0\nmetrics_address=http://127.0.0.1:0\ngrpc_inference_port=0\ngrpc_management_port=0\nmodel_store=store\n',
      );
    });
    afterEach(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    after(async () => {
      if (!dir) return;
      await run(process.execPath, [BIN, '--stop', '--pid-file', path.join(dir, 'bg.pid')], { cwd: dir }).catch(() => {});
      await fs.rm(dir, { recursive: true, force: true });
    });

    /** `modelserver --foreground`: resolves with the server's pid once it has started. */
    async function foreground(pidFile: string, env: NodeJS.ProcessEnv = process.env): Promise<{ launcher: ChildProcess; server: number }> {
      const launcher = spawn(process.execPath, [BIN, '--foreground', '--ncs', '--ts-config', 'config.properties', '--pid-file', pidFile], {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...env, TMPDIR: dir },
      });
      child = launcher;
      let stderr = '';
      launcher.stderr!.on('data', (d) => (stderr += d));
      for (let i = 0; i < 400; i++) {
        const info = await fs.readFile(pidFile, 'utf8').then((t) => JSON.parse(t) as { pid: number; inference?: string }, () => undefined);
        if (info?.inference) return { launcher, server: info.pid };
        if (launcher.exitCode !== null) throw new Error(`modelserver exited: ${stderr}`);
        await sleep(50);
      }
      throw new Error(`modelserver did not start: ${stderr}`);
    }

    it('--foreground relaunches itself with them, passes SIGTERM on and exits with the server', async () => {
      const pidFile = path.join(dir, 'fg.pid');
      const { launcher, server } = await foreground(pidFile);
      expect(server).not.to.equal(launcher.pid);
      expect(tunablesOf(server).get('glibc.malloc.mmap_threshold')).to.equal(MALLOC_TUNABLES['glibc.malloc.mmap_threshold']);
      const exited = new Promise<number | null>((r) => launcher.once('exit', (code) => r(code)));
      launcher.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(await gone(server)).to.equal(true);
      expect(await fs.access(pidFile).then(() => 'kept', () => 'removed')).to.equal('removed');
    });

    it('a server whose launcher is SIGKILLed stops too, leaving no process behind', async () => {
      const { launcher, server } = await foreground(path.join(dir, 'orphan.pid'));
      launcher.kill('SIGKILL');
      expect(await gone(server)).to.equal(true);
    });

    it('runs in place when the settings are there already', async () => {
      const { launcher, server } = await foreground(path.join(dir, 'tuned.pid'), serverEnv(process.env));
      expect(server).to.equal(launcher.pid);
      launcher.kill('SIGTERM');
      expect(await gone(server)).to.equal(true);
    });

    it('--start starts the server with them', async () => {
      const pidFile = path.join(dir, 'bg.pid');
      await run(process.execPath, [BIN, '--start', '--ncs', '--ts-config', 'config.properties', '--pid-file', pidFile, '--log-file', 'bg.log'], { cwd: dir, env: { ...process.env, TMPDIR: dir } });
      const { pid } = JSON.parse(await fs.readFile(pidFile, 'utf8')) as { pid: number };
      expect(tunablesOf(pid).get('glibc.malloc.mmap_threshold')).to.equal('131072');
      await run(process.execPath, [BIN, '--stop', '--pid-file', pidFile], { cwd: dir });
      expect(alive(pid)).to.equal(false);
    });
  });
});
