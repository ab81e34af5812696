/**
 * Part of `npm run test:container`, after image.e2e.ts has built the image: the Compose server service under
 * podman-compose (the Prometheus and Grafana images cannot be pulled here, so the whole file is only parsed), and
 * the rendered Kubernetes Deployment under `podman kube play`.
 */
import { expect } from 'chai';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { code, freePort, IMAGE, inferenceKey, podman, RUN_ID, sh, timed, waitFor } from './podman.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function predictRed(url: string, samples: string, key?: string): Promise<Record<string, number>> {
  const form = new FormData();
  form.append('data', new Blob([new Uint8Array(await fs.readFile(path.join(samples, 'red.png')))]), 'red.png');
  const res = await fetch(`${url}/predictions/colors`, { method: 'POST', body: form, headers: key ? { authorization: `Bearer ${key}` } : {} });
  expect(res.status).to.equal(200);
  return (await res.json()) as Record<string, number>;
}

describe('orchestrators', function () {
  this.timeout(600_000);
  let scratch: string;
  let samples: string;
  before(async () => {
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-ctest-orch-'));
    samples = path.join(scratch, 'samples');
    const name = `${RUN_ID}-samples`;
    await podman('create', '--name', name, IMAGE);
    try {
      await podman('cp', `${name}:/app/model_store/samples`, samples);
    } finally {
      await code('podman', ['rm', '-v', name]);
    }
  });
  after(async () => {
    if (scratch) await fs.rm(scratch, { recursive: true, force: true });
  });

  describe('compose.yaml under podman-compose', () => {
    const project = RUN_ID.replace(/-/g, '');
    const env = (ports: Record<string, number>) => ({ ...process.env, MODELSERVER_IMAGE: IMAGE, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) });
    const compose = (args: string[], e: NodeJS.ProcessEnv, p = project) => sh('podman-compose', ['-p', p, '-f', 'compose.yaml', ...args], { env: e, cwd: ROOT });
    let e: NodeJS.ProcessEnv;

    before(async () => {
      e = env({ MODELSERVER_PORT: await freePort(), MODELSERVER_METRICS_PORT: await freePort() });
    });
    after(async () => {
      await compose(['down'], e).catch(() => '');
      for (const c of [`${project}_modelserver_1`]) await code('podman', ['rm', '-f', '-v', c]);
      for (const v of ['state', 'prometheus', 'grafana']) await code('podman', ['volume', 'rm', `${project}_${v}`]);
      await code('podman', ['network', 'rm', `${project}_default`]);
    });

    it('the whole file, and with the GPU override, parses (podman-compose --dry-run)', async () => {
      const p = `${project}dry`;
      // --dry-run still creates the project's network and named volumes.
      try {
        const out = await compose(['--dry-run', 'up', '-d'], e, p);
        for (const s of ['modelserver', 'prometheus', 'grafana']) expect(out).to.contain(`--name=${p}_${s}_1`);
        const gpu = await sh('podman-compose', ['-p', p, '-f', 'compose.yaml', '-f', 'compose.gpu.yaml', '--dry-run', 'up', '-d', 'modelserver'], { env: e, cwd: ROOT });
        expect(gpu).to.contain(`--name=${p}_modelserver_1`);
      } finally {
        await code('podman', ['network', 'rm', `${p}_default`]);
        for (const v of ['state', 'prometheus', 'grafana']) await code('podman', ['volume', 'rm', `${p}_${v}`]);
      }
    });

    it('up -d modelserver: healthy, predicting, read-only; down stops it', async () => {
      await timed('podman-compose up -d modelserver', () => compose(['up', '-d', 'modelserver'], e));
      const url = `http://127.0.0.1:${e.MODELSERVER_PORT}`;
      await timed('compose service to /ping Healthy', () => waitFor(`${url}/ping`));
      const name = `${project}_modelserver_1`;
      const pred = await predictRed(url, samples, await inferenceKey(name));
      expect(Object.keys(pred)[0]).to.equal('red');
      expect((await (await fetch(`http://127.0.0.1:${e.MODELSERVER_METRICS_PORT}/metrics`)).text())).to.contain('modelserver_ready_workers{model_name="colors"');
      expect(await code('podman', ['exec', name, 'touch', '/app/x'])).to.not.equal(0);
      await timed('podman-compose down', () => compose(['down'], e));
      expect(await code('podman', ['container', 'exists', name])).to.not.equal(0);
    });
  });

  describe('the rendered Kubernetes Deployment under podman kube play', () => {
    let file: string;
    let port: number;
    let configMaps: string[] = [];
    let hadKubeNetwork = false;
    /** Volumes podman made for the image's VOLUME folders that the pod does not mount (kube down leaves them). */
    const anonymous = new Set<string>();
    async function noteVolumes(): Promise<void> {
      for (const c of ['modelserver-pod-0-modelserver', 'modelserver-pod-0-fill-model-store']) {
        const names = await sh('podman', ['inspect', c, '--format', '{{range .Mounts}}{{.Name}} {{end}}']).catch(() => '');
        for (const n of names.split(/\s+/)) if (/^[0-9a-f]{64}$/.test(n)) anonymous.add(n);
      }
    }

    before(async () => {
      const objs = YAML.parseAllDocuments(await sh('kubectl', ['kustomize', path.join(ROOT, 'deploy', 'kubernetes', 'base')])).map((d) => d.toJS() as Obj);
      // What podman can play of it: the ConfigMap and the Deployment (Service, HPA, PDB and NetworkPolicy would be
      // ignored), one replica, the local image, the PVC as an emptyDir, the inference port on a loopback hostPort.
      const deployment = objs.find((o) => o.kind === 'Deployment')!;
      configMaps = objs.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name);
      const pod = deployment.spec.template.spec;
      deployment.spec.replicas = 1;
      for (const c of [...pod.containers, ...pod.initContainers]) Object.assign(c, { image: IMAGE, imagePullPolicy: 'Never' });
      for (const v of pod.volumes) if (v.persistentVolumeClaim) (delete v.persistentVolumeClaim, (v.emptyDir = {}));
      // podman 4.3 here notices an init container's exit only after ~20 s and then fails to remove a "once" init
      // container it still thinks is running: keep it ("always") so that the pod starts; kube down removes it.
      deployment.metadata.annotations = { 'io.podman.annotations.init.container.type': 'always' };
      port = await freePort();
      const inference = pod.containers[0].ports.find((p: Obj) => p.name === 'inference');
      Object.assign(inference, { hostPort: port, hostIP: '127.0.0.1' });
      hadKubeNetwork = (await code('podman', ['network', 'exists', 'podman-default-kube-network'])) === 0;
      file = path.join(scratch, 'deployment.yaml');
      await fs.writeFile(file, objs.filter((o) => o.kind === 'ConfigMap').concat(deployment).map((o) => YAML.stringify(o)).join('---\n'));
    });
    after(async () => {
      await noteVolumes();
      await code('podman', ['kube', 'down', file]);
      for (const v of [...configMaps, ...anonymous]) await code('podman', ['volume', 'rm', v]);
      if (!hadKubeNetwork) await code('podman', ['network', 'rm', 'podman-default-kube-network']);
    });

    it('fills the model store in its initContainer, answers /ping and predicts, as uid 1000 from a read-only root', async () => {
      await timed('podman kube play', () => podman('kube', 'play', file));
      const url = `http://127.0.0.1:${port}`;
      await timed('kube play to /ping Healthy', () => waitFor(`${url}/ping`));
      const pred = await predictRed(url, samples);
      expect(Object.keys(pred)[0]).to.equal('red');
      const container = 'modelserver-pod-0-modelserver';
      expect((await podman('exec', container, 'id', '-u')).trim()).to.equal('1000');
      expect(await code('podman', ['exec', container, 'touch', '/app/x'])).to.not.equal(0);
      expect((await podman('exec', container, 'ls', '/models')).split('\n')).to.include.members(['colors.mar', 'mlp.mar', 'ocr.mar']);
      await noteVolumes();
      await timed('podman kube down', () => podman('kube', 'down', file));
    });
  });
});
