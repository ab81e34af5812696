/**
 * `npm run test:container` (not part of `npm test`: it builds an image and takes minutes). Needs podman (run
 * ../shared/scripts/container-base.sh once on this machine). Builds the image, runs it as a user would, then
 * the Compose server service under podman-compose, then the rendered Kubernetes Deployment under `podman kube
 * play`. Prints each step's time.
 */
import { expect } from 'chai';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import { TestStore } from '../helpers/server.ts';
import { code, freePort, IMAGE, inferenceKey, podman, RUN_ID, sh, timed, waitFor } from './podman.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe(`container image ${IMAGE}`, function () {
  this.timeout(600_000);
  let scratch: string;
  let store: TestStore;
  const containers: string[] = [];

  before(async () => {
    if ((await code('podman', ['--version'])) !== 0) throw new Error('podman is not installed: run ../shared/scripts/container-base.sh first');
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-ctest-'));
    store = await TestStore.create();
    await store.add({ name: 'add', model: addOne(), handler: 'tensor' });
    // --layers=false keeps no intermediate images; the image the tag named before is removed once replaced.
    const before = (await sh('podman', ['images', '-q', '--no-trunc', IMAGE])).trim();
    await timed('podman build (runtime target, no cache)', () => podman('build', '--pull=never', '--layers=false', '--format', 'docker', '-t', IMAGE, ROOT));
    const now = (await sh('podman', ['images', '-q', '--no-trunc', IMAGE])).trim();
    if (before && before !== now) await code('podman', ['rmi', before]);
    const size = Number((await podman('image', 'inspect', IMAGE, '--format', '{{.Size}}')).trim());
    console.log(`      image size: ${(size / 1e6).toFixed(0)} MB`);
  });

  after(async () => {
    for (const c of containers) await code('podman', ['rm', '-f', '-v', c]);
    await store?.remove();
    if (scratch) await fs.rm(scratch, { recursive: true, force: true });
  });

  /** `podman run -d` with the given options; returns the container name and its published inference port. */
  async function runImage(label: string, opts: string[], args: string[] = []): Promise<{ name: string; url: string; port: number }> {
    const name = `${RUN_ID}-${label}`;
    const port = await freePort();
    containers.push(name);
    await podman('run', '-d', '--name', name, '-p', `127.0.0.1:${port}:8080`, ...opts, IMAGE, ...args);
    return { name, url: `http://127.0.0.1:${port}`, port };
  }

  describe('docker run -p 8080:8080 IMAGE: the demo models', () => {
    let ms: { name: string; url: string; port: number };
    let mgmtPort: number;
    let key: string;
    let samples: string;

    before(async () => {
      mgmtPort = await freePort();
      ms = await runImage('demo', ['--read-only', '-p', `127.0.0.1:${mgmtPort}:8081`]);
      await timed('docker run to /ping Healthy', () => waitFor(`${ms.url}/ping`));
      key = await inferenceKey(ms.name);
      samples = path.join(scratch, 'samples');
      await podman('cp', `${ms.name}:/app/model_store/samples`, samples);
    });

    it('runs as uid 1000, the server alone as PID 1, from a read-only root', async () => {
      expect((await podman('exec', ms.name, 'id', '-u')).trim()).to.equal('1000');
      const procs = (await podman('top', ms.name, 'pid', 'args')).trim().split('\n').slice(1);
      expect(procs).to.have.length(1);
      expect(procs[0]).to.match(/^1\s+node \/app\/bin\/modelserver\.js --foreground/);
      expect(await code('podman', ['exec', ms.name, 'touch', '/app/x'])).to.not.equal(0);
    });

    it('answers /ping, health and metrics without a token; predictions need the key from the key file', async () => {
      expect(await (await fetch(`${ms.url}/ping`)).json()).to.deep.equal({ status: 'Healthy' });
      expect((await fetch(`${ms.url}/v2/health/ready`)).status).to.equal(200);
      const red = new Blob([new Uint8Array(await fs.readFile(path.join(samples, 'red.png')))]);
      const form = () => {
        const f = new FormData();
        f.append('data', red, 'red.png');
        return f;
      };
      expect((await fetch(`${ms.url}/predictions/colors`, { method: 'POST', body: form() })).status).to.equal(401);
      const res = await fetch(`${ms.url}/predictions/colors`, { method: 'POST', body: form(), headers: { authorization: `Bearer ${key}` } });
      expect(res.status).to.equal(200);
      const pred = (await res.json()) as Record<string, number>;
      expect(Object.keys(pred)[0]).to.equal('red');
      expect(pred.red).to.be.greaterThan(0.9);
      const metrics = await podman('exec', ms.name, 'node', '-e', "fetch('http://127.0.0.1:8082/metrics').then(r=>r.text()).then(t=>console.log(t))");
      expect(metrics).to.match(/^ts_inference_requests_total\{model_name="colors"/m);
    });

    it('reads "HELLO 2026" with the OCR demo (the sample rendered in the image build has real glyphs)', async () => {
      const res = await fetch(`${ms.url}/predictions/ocr`, {
        method: 'POST',
        body: new Uint8Array(await fs.readFile(path.join(samples, 'hello.png'))),
        headers: { 'content-type': 'image/png', authorization: `Bearer ${key}` },
      });
      expect(res.status).to.equal(200);
      const body = (await res.json()) as { lines: { text: string }[] };
      expect(body.lines.map((l) => l.text)).to.deep.equal(['HELLO 2026']);
    });

    it('keeps the management API inside the container even when its port is published', async () => {
      const outside = await fetch(`http://127.0.0.1:${mgmtPort}/models`).then((r) => r.status, () => 'refused');
      expect(outside).to.equal('refused');
      const inside = await podman('exec', ms.name, 'node', '-e',
        "const k=require('/var/lib/modelserver/key_file.json').management.key;fetch('http://127.0.0.1:8081/models',{headers:{authorization:'Bearer '+k}}).then(r=>r.json()).then(j=>console.log(JSON.stringify(j)))");
      const demos = (await podman('exec', ms.name, 'ls', '/app/model_store')).split('\n').filter((f) => f.endsWith('.mar')).map((f) => f.slice(0, -4));
      expect(demos).to.include.members(['colors', 'mlp', 'ocr']);
      expect(JSON.parse(inside).models.map((m: { modelName: string }) => m.modelName)).to.have.members(demos);
    });

    it('passes its HEALTHCHECK', async () => {
      expect(await code('podman', ['healthcheck', 'run', ms.name])).to.equal(0);
    });

    it('stops on SIGTERM with exit code 0 within 10 s', async () => {
      const t0 = performance.now();
      await timed('SIGTERM to exit', async () => {
        await podman('kill', '--signal', 'TERM', ms.name);
        expect((await podman('wait', ms.name)).trim()).to.equal('0');
      });
      expect(performance.now() - t0).to.be.below(10_000);
      const logs = await sh('podman', ['logs', ms.name]);
      expect(logs).to.not.contain('"level":50');
    });
  });

  describe("the user's own models without a config file: a mounted store, a Triton repository, KServe's /mnt/models", () => {
    it('serves the mounted store with tokens off from the environment', async () => {
      const ms = await runImage('own', ['--read-only', '-v', `${store.dir}:/models:ro,Z`, '-e', 'MS_MODEL_STORE=/models',
        '-e', 'MS_DISABLE_TOKEN_AUTHORIZATION=true', '-e', 'MS_DEFAULT_WORKERS_PER_MODEL=1']);
      await timed('own model store to /ping Healthy', () => waitFor(`${ms.url}/ping`));
      const res = await fetch(`${ms.url}/v2/models/add/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
      });
      expect(res.status).to.equal(200);
      expect(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0].data).to.deep.equal([2, 3, 4, 5]);
    });

    it('runs as an arbitrary uid in group 0, as OpenShift starts it', async () => {
      const ms = await runImage('anyuid', ['--read-only', '--user', '123456:0', '-e', 'MS_LOAD_MODELS=mlp.mar']);
      await timed('arbitrary uid to /ping Healthy', () => waitFor(`${ms.url}/ping`));
      expect((await podman('exec', ms.name, 'id', '-u')).trim()).to.equal('123456');
      expect(await inferenceKey(ms.name)).to.have.length(32);
    });

    it('serves /mnt/models as the KServe runtime starts it (--model-dir, --model-name)', async () => {
      const mnt = path.join(scratch, 'mnt-models');
      await fs.mkdir(mnt);
      await fs.copyFile(path.join(store.dir, 'add.mar'), path.join(mnt, 'model.mar'));
      const ms = await runImage('kserve', ['--read-only', '-v', `${mnt}:/mnt/models:ro,Z`, '-e', 'MS_DISABLE_TOKEN_AUTHORIZATION=true'],
        ['--model-dir=/mnt/models', '--model-name=adder', '--ncs']);
      await timed('KServe layout to /v2/health/ready', () => waitFor(`${ms.url}/v2/health/ready`));
      const res = await fetch(`${ms.url}/v1/models/adder:predict`, { method: 'POST', body: JSON.stringify({ instances: [{ inputs: { x: [[0, 0, 1, 1]] } }] }) });
      expect(await res.json()).to.deep.equal({ predictions: [{ outputs: { y: [[1, 1, 2, 2]] } }] });
    });

    it("serves a Triton model repository with Triton's flag, and only it", async () => {
      const repo = path.join(scratch, 'model_repository');
      await fs.mkdir(path.join(repo, 'add', '1'), { recursive: true });
      await fs.writeFile(path.join(repo, 'add', '1', 'model.onnx'), addOne());
      const ms = await runImage('triton', ['--read-only', '-v', `${repo}:/models:ro,Z`, '-e', 'MS_DISABLE_TOKEN_AUTHORIZATION=true', '-e', 'MS_LOAD_MODELS='],
        ['--model-repository=/models']);
      await timed('Triton repository to /v2/health/ready', () => waitFor(`${ms.url}/v2/health/ready`));
      const index = (await (await fetch(`${ms.url}/v2/repository/index`, { method: 'POST', body: '{}' })).json()) as { name: string; state: string }[];
      expect(index.filter((m) => m.state === 'READY').map((m) => m.name)).to.deep.equal(['add']);
      const res = await fetch(`${ms.url}/v2/models/add/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
      });
      expect(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0].data).to.deep.equal([2, 3, 4, 5]);
    });

    it('serves a bare model.onnx in /mnt/models under the KServe name', async () => {
      const mnt = path.join(scratch, 'mnt-onnx');
      await fs.mkdir(mnt);
      await fs.writeFile(path.join(mnt, 'model.onnx'), addOne());
      await fs.chmod(mnt, 0o755);
      const ms = await runImage('kserve-onnx', ['--read-only', '-v', `${mnt}:/mnt/models:ro,Z`, '-e', 'MS_DISABLE_TOKEN_AUTHORIZATION=true'],
        ['--model-dir=/mnt/models', '--model-name=adder', '--ncs']);
      await timed('bare model.onnx to /v2/health/ready', () => waitFor(`${ms.url}/v2/health/ready`));
      const res = await fetch(`${ms.url}/v2/models/adder/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
      });
      expect(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0].data).to.deep.equal([2, 3, 4, 5]);
    });
  });
});
