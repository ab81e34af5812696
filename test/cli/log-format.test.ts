/**
 * Logs for people (issue 15, point 8): `--foreground` in a terminal writes readable lines, JSON when its output
 * goes to a file or a pipe; MS_LOG_FORMAT=json|pretty decides when set.
 */
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packArchive } from '../../src/archive/pack.ts';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import { FIXTURE_HANDLERS } from '../helpers/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelserver = path.join(ROOT, 'bin', 'modelserver.js');
const PORTS0 = 'inference_address=http://127.0.0.1:0\nmanagement_address=http://127.0.0.1:0\nmetrics_address=http://127.0.0.1:0\n';

/** Runs `--foreground` until it has logged "modelserver started", then stops it with SIGTERM; returns its output. */
let runs = 0;

function foreground(
  dir: string,
  given: NodeJS.ProcessEnv,
  wrap?: (argv: string[]) => [string, string[]],
  more: string[] = [],
): Promise<{ code: number | null; out: string }> {
  const pidFile = path.join(dir, `ms-${++runs}.pid`); // each run its own: a slow stop cannot leak into the next test
  const argv = [modelserver, '--foreground', '--ts-config', 'c.properties', '--model-store', 'model_store', '--pid-file', pidFile, '--ncs', ...more];
  const [cmd, args] = wrap ? wrap([process.execPath, ...argv]) : [process.execPath, argv];
  const env = { ...given, MS_LOG_LEVEL: 'info' }; // other test files lower it; the test waits for an info line
  return new Promise((resolve) => {
    let out = '';
    const child = execFile(cmd, args, { cwd: dir, env }, () => undefined);
    let stopping = false;
    const take = (b: Buffer | string) => {
      out += String(b);
      if (!/modelserver started/.test(out) || stopping) return;
      stopping = true;
      // The server itself, as --stop does, once the pid file has its addresses (its signal handlers are on by
      // then); script(1) and the launcher exit with it.
      void (async () => {
        for (;;) {
          const info = JSON.parse(await fs.readFile(pidFile, 'utf8')) as { pid: number; inference?: string };
          if (info.inference) return process.kill(info.pid, 'SIGTERM');
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('--foreground logs: readable in a terminal, JSON elsewhere', function () {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-logfmt-'));
    await fs.mkdir(path.join(dir, 'model_store'));
    await fs.writeFile(path.join(dir, 'c.properties'), PORTS0);
    await fs.writeFile(path.join(dir, 'add-one.onnx'), addOne());
    await packArchive({
      modelName: 'cm', version: '1.0', serializedFile: path.join(dir, 'add-one.onnx'),
      handler: path.join(FIXTURE_HANDLERS, 'custom-metrics.js'), exportPath: path.join(dir, 'model_store'),
    });
  });
  after(async () => {
    // A server a failed test left running: stop it through its pid file, then remove the folder.
    for (const f of (await fs.readdir(dir)).filter((n) => n.endsWith('.pid'))) {
      const info = await fs.readFile(path.join(dir, f), 'utf8').then((t) => JSON.parse(t) as { pid: number }, () => undefined);
      if (!info) continue;
      try {
        process.kill(info.pid, 'SIGTERM');
      } catch {
        continue; // already gone
      }
      for (let i = 0; i < 200 && (await fs.access(path.join(dir, f)).then(() => true, () => false)); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('piped output is JSON, one object a line', async () => {
    const env = { ...process.env };
    delete env.MS_LOG_FORMAT;
    const { out } = await foreground(dir, env);
    const started = out.split('\n').find((l) => l.includes('modelserver started'))!;
    expect(JSON.parse(started)).to.include({ level: 30, msg: 'modelserver started' });
  });

  it('MS_LOG_FORMAT=pretty: time, level and message on one line, the fields below; handler lines from workers too', async () => {
    const { out } = await foreground(dir, { ...process.env, MS_LOG_FORMAT: 'pretty' }, undefined, ['--models', 'cm.mar']);
    expect(out).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: modelserver started$/m);
    expect(out).to.match(/^ {4}inference: "http:\/\/127\.0\.0\.1:\d+"$/m);
    expect(out).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: custom-metrics handler ready$/m);
    expect(out).to.not.match(/^\{"level"/m);
  });

  it('a terminal (script(1) gives it one) gets readable lines without being asked', async function () {
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
    } catch {
      this.skip(); // no util-linux script(1) to give the server a terminal
    }
    const env = { ...process.env };
    delete env.MS_LOG_FORMAT;
    const { out } = await foreground(dir, env, (argv) => ['script', ['-qec', argv.map((a) => `'${a}'`).join(' '), '/dev/null']]);
    // eslint-disable-next-line no-control-regex
    const plain = out.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
    expect(plain).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: modelserver started$/m);
  });

  it('a bad MS_LOG_FORMAT stops the start with what is allowed, leaving no pid file', async () => {
    const { code, out } = await foreground(dir, { ...process.env, MS_LOG_FORMAT: 'fancy' });
    expect(code).to.equal(1);
    expect(out).to.contain('MS_LOG_FORMAT = "fancy" is not allowed: expected json or pretty');
    expect((await fs.readdir(dir)).filter((f) => f === `ms-${runs}.pid`), 'its pid file').to.deep.equal([]);
  });
});
