/**
 * Every command block of the README, run in order on a fresh copy of the checkout as a newcomer would (issue 15,
 * point 3). The rules (ports, curl, npm install, npm start, the skip marker) are in test/helpers/readme-blocks.ts
 * and the README's "Contributing" section.
 */
import { expect } from 'chai';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepare, readmeBlocks } from '../helpers/readme-blocks.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((r) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => r(s)); })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', `set -euo pipefail\n${script}`], { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

describe('README: every sh block, in order, on a fresh copy of the checkout', function () {
  // A whole README: the build, the demo archives and several servers; no per-command timing is asserted.
  this.timeout(240_000);
  const blocks = readmeBlocks(README);
  let copy: string;
  let env: NodeJS.ProcessEnv;
  let ports: Record<'8080' | '8081' | '8082', number>;
  let npmStart: ChildProcess | undefined;
  let npmOutput = '';
  const pidFile = () => path.join(path.dirname(copy), 'ms.pid');

  const stopNpmStart = async () => {
    const child = npmStart;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGINT'); // Ctrl-C: the whole foreground process group
    await exited;
    while (await fs.access(pidFile()).then(() => true, () => false)) await sleep(50);
    npmStart = undefined;
  };

  before(async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-readme-'));
    copy = path.join(root, 'modelserver');
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f !== '' && !f.startsWith('node_modules/'));
    for (const f of files) {
      const from = path.join(ROOT, f);
      if (!(await fs.stat(from).then((s) => s.isFile(), () => false))) continue; // deleted in the work tree
      await fs.mkdir(path.dirname(path.join(copy, f)), { recursive: true });
      await fs.copyFile(from, path.join(copy, f));
    }
    await fs.symlink(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const [a, b, c] = await freePorts(3);
    ports = { '8080': a, '8081': b, '8082': c };
    const config = await fs.readFile(path.join(copy, 'config.properties'), 'utf8');
    await fs.writeFile(path.join(copy, 'config.properties'), config.replace(/\b(8080|8081|8082)\b/g, (p) => String(ports[p as keyof typeof ports])));
    env = { ...process.env, MS_PID_FILE: pidFile(), TMPDIR: root };
    delete env.MS_LOG_LEVEL; // the README's server logs as a user's does
    delete env.MS_LOG_FORMAT;
  });

  after(async () => {
    await stopNpmStart();
    if (copy) {
      await bash('node bin/modelserver.js --stop >/dev/null', copy, env);
      await fs.rm(path.dirname(copy), { recursive: true, force: true });
    }
  });

  it('has sh blocks, each skip with its reason', () => {
    expect(blocks.length).to.be.greaterThan(4);
    for (const b of blocks) if (b.skip !== undefined) expect(b.skip.trim(), `README line ${b.line}`).to.not.equal('');
  });

  for (const block of blocks) {
    const title = `line ${block.line}: ${block.text.split('\n')[0].slice(0, 70)}`;
    if (block.skip !== undefined) {
      it.skip(`${title} (${block.skip})`);
      continue;
    }
    it(title, async () => {
      if (block.stopNpmStartFirst) await stopNpmStart();
      const { before: first, npmStart: starts, after: rest } = prepare(block.text, ports);
      const run1 = await bash(first, copy, env);
      expect(run1.code, `README line ${block.line}:\n${first}\n--- output ---\n${run1.out}`).to.equal(0);
      if (starts) {
        npmOutput = '';
        const child = spawn('npm', ['start'], { cwd: copy, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        npmStart = child;
        child.stdout.on('data', (d) => (npmOutput += String(d)));
        child.stderr.on('data', (d) => (npmOutput += String(d)));
        for (;;) {
          if (child.exitCode !== null) expect.fail(`npm start exited with ${child.exitCode}:\n${npmOutput}`);
          const res = await fetch(`http://127.0.0.1:${ports['8080']}/ping`).catch(() => undefined);
          if (res?.status === 200) break;
          await sleep(200);
        }
      }
      if (rest.trim() !== '') {
        const run2 = await bash(rest, copy, env);
        expect(run2.code, `README line ${block.line}:\n${rest}\n--- output ---\n${run2.out}`).to.equal(0);
      }
    });
  }
});
