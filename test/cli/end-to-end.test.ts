import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { colorsClassifier, colorsLabels } from '../../scripts/lib/onnx-models.ts';
import { solidImage } from '../../scripts/lib/images.ts';
import { client, close, unary } from '../helpers/grpc.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name: string) => path.join(ROOT, 'bin', `${name}.js`);

/** Running: signalable and not a zombie (an exited child waits for its new parent to reap it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('end to end as a user: model-archiver, modelserver --start, predict, --stop', function () {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-e2e-'));
  });
  after(async () => {
    await run(process.execPath, [bin('modelserver'), '--stop', '--pid-file', path.join(dir, 'ms.pid')]).catch(() => {});
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('archives, serves, answers and stops, leaving no process behind', async () => {
    await fs.writeFile(path.join(dir, 'colors.onnx'), colorsClassifier());
    await fs.writeFile(path.join(dir, 'index_to_name.json'), JSON.stringify(colorsLabels()));
    await fs.writeFile(path.join(dir, 'red.png'), await solidImage(240, 0, 0));
    const store = path.join(dir, 'model_store');
    await fs.mkdir(store);
    const archived = await run(
      process.execPath,
      [bin('model-archiver'), '--model-name', 'colors', '--version', '1.0', '--serialized-file', 'colors.onnx',
        '--handler', 'image_classifier', '--extra-files', 'index_to_name.json', '--export-path', 'model_store'],
      { cwd: dir },
    );
    expect(archived.stdout).to.contain('colors.mar');

    // Ports 0: the OS picks free ones; the pid file tells where the server listens.
    await fs.writeFile(
      path.join(dir, 'config.properties'),
      'inference_address=http://127.0.0.1:0\nmanagement_address=http://127.0.0.1:0\nmetrics_address=http://127.0.0.1:0\ngrpc_management_port=0\ndefault_workers_per_model=1\n',
    );
    const pidFile = path.join(dir, 'ms.pid');
    const started = await run(
      process.execPath,
      [bin('modelserver'), '--start', '--ts-config', 'config.properties', '--model-store', 'model_store',
        '--models', 'colors=colors.mar', '--pid-file', pidFile, '--log-file', 'logs/ms.log', '--grpc-port', '0'],
      { cwd: dir },
    );
    expect(started.stdout).to.contain('modelserver started');
    const info = JSON.parse(await fs.readFile(pidFile, 'utf8')) as { pid: number; inference: string; management: string; grpcInference: string };
    expect(alive(info.pid)).to.equal(true);
    // --grpc-port (Triton's flag) set the gRPC inference port; the pid file tells where it is
    expect(info.grpcInference).to.match(/^127\.0\.0\.1:\d+$/);
    const triton = client('triton', info.grpcInference);
    expect(await unary(triton, 'ModelReady', { name: 'colors' })).to.deep.equal({ ready: true });
    close(triton);

    const ping = await fetch(`${info.inference}/ping`);
    expect(await ping.json()).to.deep.equal({ status: 'Healthy' });
    const form = new FormData();
    form.append('data', new Blob([new Uint8Array(await fs.readFile(path.join(dir, 'red.png')))]), 'red.png');
    const pred = (await (await fetch(`${info.inference}/predictions/colors`, { method: 'POST', body: form })).json()) as Record<string, number>;
    expect(Object.keys(pred)[0]).to.equal('red');
    expect(pred.red).to.be.greaterThan(0.9);
    const models = await (await fetch(`${info.management}/models`)).json();
    expect(models).to.deep.equal({ models: [{ modelName: 'colors', modelUrl: 'colors.mar' }] });

    const stopped = await run(process.execPath, [bin('modelserver'), '--stop', '--pid-file', pidFile], { cwd: dir });
    expect(stopped.stdout).to.contain('stopped');
    expect(alive(info.pid)).to.equal(false);
    await fs.access(pidFile).then(
      () => expect.fail('the pid file is still there'),
      () => {},
    );
  });

  it('refuses to start on a bad config value, naming the key, the value and what is allowed', async () => {
    await fs.writeFile(path.join(dir, 'bad.properties'), 'job_queue_size=lots\n');
    const res = await run(process.execPath, [bin('modelserver'), '--start', '--ts-config', 'bad.properties', '--pid-file', path.join(dir, 'bad.pid')], { cwd: dir }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('job_queue_size').and.contain('lots').and.contain('positive integer');
  });

  it('prints its version with -v, as torchserve does', async () => {
    const pkg = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const res = await run(process.execPath, [bin('modelserver'), '-v']);
    expect(res.stdout.trim()).to.equal(pkg.version);
  });
});
