/**
 * A newcomer's first `--start`: a model named on the command line that does not load is reported on the console
 * with its reason and the start fails (issue 15, point 1); a port in use or a missing model store names the
 * setting (point 6); the log tail of a failed start holds this run's lines only.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { packArchive } from '../../src/archive/pack.ts';
import { colorsClassifier, colorsLabels } from '../../scripts/lib/onnx-models.ts';
import { FIXTURE_HANDLERS } from '../helpers/server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelserver = path.join(ROOT, 'bin', 'modelserver.js');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

const PORTS0 = 'inference_address=http://127.0.0.1:0\nmanagement_address=http://127.0.0.1:0\nmetrics_address=http://127.0.0.1:0\ndefault_workers_per_model=1\n';

describe('modelserver --start when a model named at start does not load', function () {
  let dir: string;
  let store: string;
  const pidFile = () => path.join(dir, 'ms.pid');
  const start = (args: string[], config = PORTS0, snapshots = ['--ncs']): Promise<Outcome> =>
    fs.writeFile(path.join(dir, 'config.properties'), config).then(() =>
      run(process.execPath, [modelserver, '--start', '--ts-config', 'config.properties', '--pid-file', pidFile(), ...snapshots, ...args], { cwd: dir }).then(
        (r) => ({ code: 0, ...r }),
        (e: Outcome) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      ),
    );
  const stop = () => run(process.execPath, [modelserver, '--stop', '--pid-file', pidFile()], { cwd: dir }).catch(() => undefined);

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-startfail-'));
    store = path.join(dir, 'model_store');
    await fs.mkdir(store);
    const src = path.join(dir, 'src');
    await fs.mkdir(src);
    await fs.writeFile(path.join(src, 'colors.onnx'), colorsClassifier());
    await fs.writeFile(path.join(src, 'index_to_name.json'), JSON.stringify(colorsLabels()));
    await fs.writeFile(path.join(src, 'corrupt.onnx'), Buffer.from('this is not an onnx model at all'));
    await fs.writeFile(path.join(src, 'syntax.js'), 'export default {\n  handle(requests) {\n    return requests.map((r) => r;\n  },\n};\n');
    const pack = (modelName: string, serializedFile: string, handler: string, extraFiles: string[] = []) =>
      packArchive({ modelName, version: '1.0', serializedFile: path.join(src, serializedFile), handler, extraFiles, exportPath: store, force: true });
    await pack('colors', 'colors.onnx', 'image_classifier', [path.join(src, 'index_to_name.json')]);
    await pack('corrupt', 'corrupt.onnx', 'tensor');
    await pack('syntax', 'colors.onnx', path.join(src, 'syntax.js'));
    await pack('initfails', 'colors.onnx', path.join(FIXTURE_HANDLERS, 'init-fails.js'));
  });
  afterEach(stop);
  after(async () => {
    await stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a missing archive, a corrupt ONNX file, a handler with a syntax error: each named with its reason, exit 1, no server left', async () => {
    const res = await start(['--model-store', 'model_store', '--models', 'colors.mar', 'nothere.mar', 'corrupt.mar', 'syntax.mar']);
    expect(res.code).to.equal(1);
    expect(res.stdout).not.to.contain('Healthy');
    expect(res.stderr).to.contain('3 models named at start did not load');
    expect(res.stderr).to.contain('nothere (nothere.mar): model archive "nothere.mar" not found in the model store');
    expect(res.stderr).to.match(/corrupt \(corrupt\.mar\): .*not an ONNX model/);
    expect(res.stderr).to.match(/syntax \(syntax\.mar\): .*syntax\.js:3/);
    expect(res.stderr).not.to.match(/colors \(colors\.mar\)/);
    expect(res.stderr).to.contain('the server was stopped (strict_readiness=true)');
    await fs.access(pidFile()).then(() => expect.fail('a pid file was left behind'), () => {});
  });

  it('a model store that does not exist names --model-store, not scandir', async () => {
    const res = await start(['--model-store', 'nowhere', '--models', 'all']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('--model-store').and.contain('does not exist');
    expect(res.stderr).not.to.contain('scandir');
  });

  it("strict_readiness=false (here Triton's --strict-readiness=false) serves what loaded (TorchServe) and exits 2, naming what did not", async () => {
    const res = await start(['--model-store', 'model_store', '--models', 'colors.mar', 'initfails.mar', '--strict-readiness=false']);
    expect(res.code).to.equal(2);
    expect(res.stderr).to.contain('initfails (initfails.mar)');
    expect(res.stdout).to.contain('strict_readiness=false');
    const info = JSON.parse(await fs.readFile(pidFile(), 'utf8')) as { inference: string };
    const ping = await fetch(`${info.inference}/ping`);
    expect(ping.status).to.equal(200);
  });

  it('a model of the last snapshot whose archive is gone: named, with where it came from and what to do', async () => {
    await fs.copyFile(path.join(store, 'colors.mar'), path.join(store, 'gone.mar'));
    const snapshot = ['--snapshot-dir', path.join(dir, 'snap')];
    const first = await start(['--model-store', 'model_store', '--models', 'gone=gone.mar'], PORTS0, snapshot);
    expect(first.code, first.stderr).to.equal(0);
    await stop();
    await fs.rm(path.join(store, 'gone.mar'));
    const res = await start(['--model-store', 'model_store'], PORTS0, snapshot);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('gone (gone.mar): model archive "gone.mar" not found').and.contain('came from the last snapshot');

    const again = await start(['--model-store', 'model_store'], PORTS0, snapshot);
    expect(again.code, 'the failed start left the snapshot naming the model').to.equal(1);
    expect(again.stderr).to.contain('gone (gone.mar)');
  });

  it('TorchServe keys and flags for what is not served (workflow_store, log4j, plugins) are named at start with a note', async () => {
    const res = await start(
      ['--model-store', 'model_store', '--models', 'colors.mar', '--workflow-store', 'model_store', '--log-config', 'log4j2.xml', '--ppath', 'plugins'],
      `${PORTS0}grpc_inference_port=0\ngrpc_management_port=0\n`,
    );
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stderr, 'gRPC is served now').to.not.match(/grpc_inference_port.*does not use/);
    expect(res.stderr).to.match(/^note: .*workflow_store.*serves no workflows/m);
    expect(res.stderr).to.match(/^note: --log-config log4j2\.xml: log4j2 settings have no meaning here/m);
    expect(res.stderr).to.match(/^note: .*plugins_path.*does not use/m);
  });

  it('a port in use names inference_address and the port; the log tail shows this run only', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await fs.mkdir(path.join(dir, 'logs'), { recursive: true });
      await fs.writeFile(path.join(dir, 'logs', 'modelserver.log'), 'an old line from the previous run\n');
      const config = PORTS0.replace('inference_address=http://127.0.0.1:0', `inference_address=http://127.0.0.1:${port}`);
      const res = await start(['--model-store', 'model_store'], config);
      expect(res.code).to.equal(1);
      expect(res.stderr).to.contain(`inference_address http://127.0.0.1:${port}`).and.contain(`port ${port} is already in use`);
      expect(res.stderr).not.to.contain('EADDRINUSE');
      expect(res.stderr).not.to.contain('previous run');
    } finally {
      blocker.close();
    }
  });
});
