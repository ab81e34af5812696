/**
 * Handler bugs as a newcomer meets them (issue 15, point 5): the server's log names the handler's file and line
 * with the stack, at error level, once per distinct error, while the client keeps the short message.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { packArchive } from '../../src/archive/pack.ts';
import { colorsClassifier } from '../../scripts/lib/onnx-models.ts';
import { FIXTURE_HANDLERS } from '../helpers/server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelserver = path.join(ROOT, 'bin', 'modelserver.js');

interface LogLine {
  level: number;
  msg: string;
  at?: string;
  stack?: string;
  component?: string;
}

describe('handler bugs in the log: file, line, stack, once per distinct error', function () {
  let dir: string;
  const pidFile = () => path.join(dir, 'ms.pid');
  const logFile = () => path.join(dir, 'ms.log');
  const lines = async (): Promise<LogLine[]> =>
    (await fs.readFile(logFile(), 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-handlerbugs-'));
    const store = path.join(dir, 'model_store');
    await fs.mkdir(store);
    await fs.writeFile(path.join(dir, 'colors.onnx'), colorsClassifier());
    for (const [name, handler] of [['throws', 'throws.js'], ['initfails', 'init-fails.js']]) {
      await packArchive({
        modelName: name, version: '1.0', serializedFile: path.join(dir, 'colors.onnx'),
        handler: path.join(FIXTURE_HANDLERS, handler), exportPath: store,
      });
    }
    await fs.writeFile(
      path.join(dir, 'config.properties'),
      'inference_address=http://127.0.0.1:0\nmanagement_address=http://127.0.0.1:0\nmetrics_address=http://127.0.0.1:0\n' +
        'default_workers_per_model=1\nstrict_readiness=false\n',
    );
  });
  after(async () => {
    await run(process.execPath, [modelserver, '--stop', '--pid-file', pidFile()]).catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a bug at request time: one error line with throws.js:7 and the stack for ten failing requests; the client gets the short message', async () => {
    const started = await run(
      process.execPath,
      [modelserver, '--start', '--ts-config', 'config.properties', '--model-store', 'model_store', '--models', 'throws.mar', 'initfails.mar',
        '--pid-file', pidFile(), '--log-file', logFile(), '--ncs'],
      { cwd: dir },
    ).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect((started as { code?: number }).code).to.equal(2); // initfails did not load; the server serves throws
    expect(started.stderr).to.contain('initfails (initfails.mar): model "initfails" failed to load: weights are corrupt (at init-fails.js:2');
    const { inference } = JSON.parse(await fs.readFile(pidFile(), 'utf8')) as { inference: string };

    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${inference}/predictions/throws?mode=bug`, { method: 'POST', body: 'x' });
      expect(res.status).to.equal(500);
      const body = (await res.json()) as { message: string };
      expect(body.message).to.equal('handler "throws.js" of model "throws" failed: cannot read properties of undefined');
      expect(body.message).not.to.contain('at ');
    }
    await run(process.execPath, [modelserver, '--stop', '--pid-file', pidFile()]);

    const all = await lines();
    const bug = all.filter((l) => l.msg.includes('cannot read properties of undefined'));
    expect(bug, 'one line for ten requests').to.have.length(1);
    expect(bug[0].level).to.equal(50);
    expect(bug[0].at).to.match(/^throws\.js:7:\d+$/);
    expect(bug[0].stack).to.contain('TypeError: cannot read properties of undefined').and.contain('throws.js:7');

    const access = all.filter((l) => l.component === 'access' && l.msg.startsWith('POST /predictions/throws'));
    expect(access, 'an access line per request').to.have.length(10);
    expect(access.every((l) => l.level === 50), 'a 500 is logged at error level').to.equal(true);

    const init = all.filter((l) => l.msg.includes('weights are corrupt'));
    expect(init[0].level).to.equal(50);
    expect(init[0].stack).to.contain('initialize').and.contain('init-fails.js:2');
  });
});
