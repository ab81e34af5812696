import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import { writeRepository } from '../helpers/repository.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe("modelserver with Triton's flags: `tritonserver --model-repository=DIR` with the name changed", function () {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-triton-cli-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('runs in the foreground, serves the repository on --http-port, and stops on SIGTERM', async () => {
    await writeRepository(path.join(dir, 'models'), {
      adder: { config: 'name: "adder"\nbackend: "onnxruntime"\nmax_batch_size: 8\ndynamic_batching { }', versions: { '1': addOne() } },
    });
    // The management port is not one of Triton's flags: the config file puts it on a free port too.
    await fs.writeFile(path.join(dir, 'config.properties'), 'management_address=http://127.0.0.1:0\ndefault_workers_per_model=1\n');
    const pidFile = path.join(dir, 'ms.pid');
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin', 'modelserver.js'), '--model-repository=models', '--http-port=0', '--metrics-port=0', '--strict-model-config=false',
        '--log-verbose=0', '--http-address=127.0.0.1', '--allow-http=true', '--backend-config=onnxruntime,default-max-batch-size=4',
        '--ts-config', 'config.properties', '--pid-file', pidFile, '--ncs'],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    let info: { inference?: string; metrics?: string } = {};
    while (!info.inference) {
      if (child.exitCode !== null) throw new Error(`the server exited: ${stderr}`);
      if (existsSync(pidFile)) info = JSON.parse(readFileSync(pidFile, 'utf8')) as typeof info;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ready = await fetch(`${info.inference}/v2/health/ready`);
    expect(ready.status).to.equal(200);
    const res = await fetch(`${info.inference}/v2/models/adder/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
    });
    expect(((await res.json()) as { outputs: Array<{ data: number[] }> }).outputs[0].data).to.deep.equal([2, 3, 4, 5]);
    const metrics = await (await fetch(`${info.metrics}/metrics`)).text();
    expect(metrics).to.contain('nv_inference_request_success{model="adder",version="1"} 1');
    expect(stderr).to.contain('warning: --allow-http has no effect here: the HTTP endpoint is always on');
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(existsSync(pidFile)).to.equal(false);
  });

  it('refuses a bad flag value with a message and exit code 1', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'modelserver.js'), '--model-repository=models', '--model-control-mode=sometimes', '--disable-auto-complete-config', '--pid-file', path.join(dir, 'x.pid')], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
    expect(code).to.equal(1);
    expect(stderr).to.match(/model_control_mode.*sometimes/);
  });
});

describe("modelserver's other Triton flags", function () {
  it('maps --disable-auto-complete-config to strict_model_config and warns once per flag without effect', async () => {
    const { tritonFlagProperties } = await import('../../src/cli/triton-flags.ts');
    const warnings: string[] = [];
    const backendConfig = ['onnxruntime,default-max-batch-size=8', 'tensorrt,coalesce-request-input=true'];
    expect(tritonFlagProperties({ disableAutoCompleteConfig: true, pinnedMemoryPoolByteSize: '268435456', allowMetrics: true, backendConfig }, (m) => warnings.push(m))).to.deep.equal({
      strict_model_config: 'true',
      default_max_batch_size: '8',
    });
    expect(warnings).to.deep.equal([
      '--backend-config=tensorrt,coalesce-request-input=true has no effect here: only [onnxruntime,]default-max-batch-size is read',
      '--allow-metrics has no effect here: the metrics endpoint is always on',
      '--pinned-memory-pool-byte-size has no effect here: there is no pinned memory pool',
    ]);
  });
});
