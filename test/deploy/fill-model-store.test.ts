import AdmZip from 'adm-zip';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { addOne, mlp } from '../../scripts/lib/onnx-models.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = path.join(ROOT, 'deploy', 'kubernetes', 'base', 'fill-model-store.sh');
const GPU_MODEL_CONFIG = path.join(ROOT, 'deploy', 'kubernetes', 'overlays', 'gpu', 'model-config.yaml');

describe("the Deployment's initContainer script (fill-model-store.sh) with MODEL_URLS", function () {
  let store: TestStore;
  let root: string;
  let files: http.Server;
  let base: string;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'mlp', model: mlp(), handler: 'tensor' });
    const served: Record<string, Buffer> = {
      '/m/add.onnx': Buffer.from(addOne()),
      '/m/mlp.mar': await fs.readFile(path.join(store.dir, 'mlp.mar')),
      '/m/notes.txt': Buffer.from('not a model'),
    };
    files = http.createServer((req, res) => {
      const body = served[new URL(req.url!, 'http://x').pathname];
      res.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
  });
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-fill-'));
    await fs.mkdir(path.join(root, 'models'));
    await fs.mkdir(path.join(root, 'config'));
  });
  afterEach(async () => fs.rm(root, { recursive: true, force: true }));
  after(async () => {
    await new Promise((r) => files.close(r));
    await store.remove();
  });

  const fill = (urls: string) =>
    run('sh', [SCRIPT], {
      env: { ...process.env, MODEL_URLS: urls, MODEL_STORE: path.join(root, 'models'), APP_DIR: ROOT, CONFIG_DIR: path.join(root, 'config'), TMPDIR: root },
    });

  it('copies a .mar and archives an .onnx with the tensor handler; a real server serves both; a second run leaves the store alone', async () => {
    const first = await fill(`${base}/m/add.onnx ${base}/m/mlp.mar?version=3`);
    expect(first.stdout).to.contain('added add.onnx').and.contain('added mlp.mar');
    expect((await fs.readdir(path.join(root, 'models'))).sort()).to.deep.equal(['add.mar', 'mlp.mar']);
    const again = await fill(`${base}/m/add.onnx`);
    expect(again.stdout).to.contain('model store already holds: add.mar mlp.mar');

    const served = await TestStore.create();
    try {
      for (const f of ['add.mar', 'mlp.mar']) await fs.copyFile(path.join(root, 'models', f), path.join(served.dir, f));
      const server = await startTestServer(served, ['add.mar', 'mlp.mar']);
      try {
        const res = await fetch(`${server.inferenceUrl}/predictions/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: { x: [[1, 2, 3, 4]] } }) });
        expect(await res.json()).to.deep.equal({ outputs: { y: [[2, 3, 4, 5]] } });
        expect((await fetch(`${server.inferenceUrl}/v2/models/mlp/ready`)).status).to.equal(200);
      } finally {
        await server.stop();
      }
    } finally {
      await served.remove();
    }
  });

  it("puts the ConfigMap's model-config.yaml (the GPU overlay's deviceType: gpu) into the archive it makes", async () => {
    await fs.copyFile(GPU_MODEL_CONFIG, path.join(root, 'config', 'model-config.yaml'));
    await fill(`${base}/m/add.onnx`);
    const zip = new AdmZip(path.join(root, 'models', 'add.mar'));
    const manifest = JSON.parse(zip.readAsText('MAR-INF/MANIFEST.json')) as { model: { configFile: string; handler: string } };
    expect(manifest.model.handler).to.equal('tensor');
    expect(zip.readAsText(manifest.model.configFile)).to.match(/^deviceType: gpu$/m);
  });

  it('fails, naming the URL, on a download that is not there or a file that is neither .mar nor .onnx, and adds nothing', async () => {
    const missing = await fill(`${base}/m/nope.mar`).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(missing?.code).to.equal(1);
    expect(missing?.stderr).to.contain(`cannot download ${base}/m/nope.mar: HTTP 404`);
    const other = await fill(`${base}/m/notes.txt`).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(other?.code).to.equal(1);
    expect(other?.stderr).to.contain(`cannot add ${base}/m/notes.txt: expected a .mar or .onnx file`);
    expect(await fs.readdir(path.join(root, 'models'))).to.deep.equal([]);
  });
});
