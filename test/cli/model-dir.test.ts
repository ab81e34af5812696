import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { addOne, mlp } from '../../scripts/lib/onnx-models.ts';
import { planModelDir } from '../../src/cli/model-dir.ts';
import { TestStore } from '../helpers/server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODELSERVER = path.join(ROOT, 'bin', 'modelserver.js');

describe('--model-dir: serving what KServe leaves in /mnt/models', function () {
  let store: TestStore;
  let root: string;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'add', model: addOne(), handler: 'tensor' });
    await store.add({ name: 'mlp', model: mlp(), handler: 'tensor' });
  });
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-model-dir-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });
  after(async () => {
    await store.remove();
  });

  /** `dir` under the test's folder, holding copies of the store's archives under the given file names. */
  async function mnt(files: Record<string, string>, sub = 'mnt/models'): Promise<string> {
    const dir = path.join(root, sub);
    await fs.mkdir(dir, { recursive: true });
    for (const [file, from] of Object.entries(files)) await fs.copyFile(path.join(store.dir, from), path.join(dir, file));
    return path.join(root, 'mnt/models');
  }

  const rejects = async (p: Promise<unknown>, re: RegExp) => {
    const err = await p.then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(re);
  };

  describe('what a folder becomes', () => {
    it('one archive: the model store is the folder and the archive is served under the given name', async () => {
      const dir = await mnt({ 'model.mar': 'add.mar' });
      expect(await planModelDir(dir, 'my-model')).to.include({ modelStore: dir, loadModels: 'my-model=model.mar' });
      expect(await planModelDir(dir)).to.include({ modelStore: dir, loadModels: 'model.mar' });
    });

    it('the archive itself, as a single-file storageUri leaves it', async () => {
      const dir = await mnt({ 'add.mar': 'add.mar' });
      expect(await planModelDir(path.join(dir, 'add.mar'), 'adder')).to.include({ modelStore: dir, loadModels: 'adder=add.mar' });
    });

    it('several archives: every one under its own name; a single name given for them is left unused, with a warning', async () => {
      const dir = await mnt({ 'add.mar': 'add.mar', 'mlp.mar': 'mlp.mar' });
      expect(await planModelDir(dir)).to.include({ modelStore: dir, loadModels: 'all' }).and.not.have.property('warning');
      const named = await planModelDir(dir, 'one');
      expect(named).to.include({ modelStore: dir, loadModels: 'all' });
      expect(named.warning).to.match(/names one model, but 2 models in .* \(add\.mar, mlp\.mar\): each is served under its own name/);
    });

    it('a bare model.onnx: the folder is the model, served as the given name (else the folder\'s)', async () => {
      const dir = await mnt({});
      await fs.writeFile(path.join(dir, 'model.onnx'), addOne());
      expect(await planModelDir(dir, 'adder')).to.include({ modelStore: path.dirname(dir), loadModels: 'adder=models' });
      expect(await planModelDir(dir)).to.include({ modelStore: path.dirname(dir), loadModels: 'models' });
    });

    it('a Triton repository: one model folder under the given name, several as the repository itself', async () => {
      const dir = await mnt({});
      await fs.mkdir(path.join(dir, 'add', '1'), { recursive: true });
      await fs.writeFile(path.join(dir, 'add', '1', 'model.onnx'), addOne());
      expect(await planModelDir(dir, 'adder')).to.include({ modelStore: dir, loadModels: 'adder=add' });
      await fs.mkdir(path.join(dir, 'mlp', '1'), { recursive: true });
      await fs.writeFile(path.join(dir, 'mlp', '1', 'model.onnx'), mlp());
      expect(await planModelDir(dir)).to.deep.include({ modelRepository: dir, loadModels: '' }).and.not.have.property('modelStore');
    });

    it("TorchServe's KServe layout: archives in model-store/", async () => {
      const dir = await mnt({ 'mnist.mar': 'add.mar' }, 'mnt/models/model-store');
      await fs.mkdir(path.join(dir, 'config'));
      await fs.writeFile(path.join(dir, 'config', 'config.properties'), 'inference_address=http://0.0.0.0:8085\n');
      expect(await planModelDir(dir, 'mnist')).to.include({ modelStore: path.join(dir, 'model-store'), loadModels: 'mnist=mnist.mar' });
    });

    it('refuses an empty folder, a missing path, another file and a bad name, saying what it saw', async () => {
      const dir = await mnt({});
      await fs.writeFile(path.join(dir, 'README.txt'), 'hi');
      await rejects(planModelDir(dir), /found no model in .*: no \.mar, model\.onnx or Triton model folder \(it holds: README\.txt\)/);
      await rejects(planModelDir(path.join(root, 'nope')), /no such file or folder/);
      await rejects(planModelDir(path.join(dir, 'README.txt')), /is a file but not a \.mar archive or an \.onnx model/);
      await rejects(planModelDir(dir, '../x'), /"\.\.\/x" is not a valid model name/);
    });
  });

  describe('modelserver --start --model-dir', function () {
    this.timeout(120_000);
    const config = 'inference_address=http://127.0.0.1:0\nmanagement_address=http://127.0.0.1:0\nmetrics_address=http://127.0.0.1:0\ndefault_workers_per_model=1\n';

    async function serve(args: string[]): Promise<{ inference: string; stop: () => Promise<void> }> {
      await fs.writeFile(path.join(root, 'config.properties'), config);
      const pidFile = path.join(root, 'ms.pid');
      const common = ['--pid-file', pidFile];
      await run(process.execPath, [MODELSERVER, '--start', '--ncs', ...args, ...common, '--log-file', path.join(root, 'ms.log')], { cwd: root });
      const info = JSON.parse(await fs.readFile(pidFile, 'utf8')) as { inference: string };
      return { inference: info.inference, stop: async () => void (await run(process.execPath, [MODELSERVER, '--stop', ...common], { cwd: root })) };
    }

    async function addOneVia(inference: string, model: string): Promise<unknown> {
      const res = await fetch(`${inference}/v2/models/${model}/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
      });
      expect(res.status).to.equal(200);
      return ((await res.json()) as { outputs: { name: string; data: number[] }[] }).outputs.map((o) => [o.name, o.data]);
    }

    it('serves one archive under the InferenceService name', async () => {
      await mnt({ 'model.mar': 'add.mar' });
      const server = await serve(['--model-dir', 'mnt/models', '--model-name', 'my-adder']);
      try {
        expect(await addOneVia(server.inference, 'my-adder')).to.deep.equal([['y', [2, 3, 4, 5]]]);
        expect((await fetch(`${server.inference}/v2/models/add/ready`)).status).to.equal(404);
      } finally {
        await server.stop();
      }
    });

    it("serves a folder of archives, each under its own name (KServe's --model_dir spelling)", async () => {
      await mnt({ 'add.mar': 'add.mar', 'mlp.mar': 'mlp.mar' });
      const server = await serve(['--model_dir=mnt/models']);
      try {
        expect(await addOneVia(server.inference, 'add')).to.deep.equal([['y', [2, 3, 4, 5]]]);
        const meta = (await (await fetch(`${server.inference}/v2/models/mlp`)).json()) as { inputs: { name: string; shape: number[] }[] };
        expect(meta.inputs).to.deep.equal([{ name: 'input', datatype: 'FP32', shape: [-1, 16] }]);
      } finally {
        await server.stop();
      }
    });

    it('refuses --model-dir with --model-store, and a folder with nothing to serve, before starting', async () => {
      await mnt({});
      const fail = (args: string[]) =>
        run(process.execPath, [MODELSERVER, '--start', ...args, '--pid-file', path.join(root, 'x.pid')], { cwd: root }).then(
          () => expect.fail('it started'),
          (err: { code: number; stderr: string }) => err,
        );
      const both = await fail(['--model-dir', 'mnt/models', '--model-store', 'mnt']);
      expect(both.code).to.equal(1);
      expect(both.stderr).to.contain('give it without --model-store, --models and --model-repository');
      const empty = await fail(['--model-dir', 'mnt/models']);
      expect(empty.stderr).to.match(/found no model in .*\(it is empty\)/);
    });
  });
});
