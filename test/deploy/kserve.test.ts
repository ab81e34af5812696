import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { addOne, mlp } from '../../scripts/lib/onnx-models.ts';
import { TestStore } from '../helpers/server.ts';
import { coreProblems, DEPLOY, fieldNames, yamlDocs } from './k8s-schema.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const KSERVE = path.join(DEPLOY, 'kserve');

// KServe's own fields (serving.kserve.io v1alpha1 ServingRuntimeSpec, v1beta1 PredictorSpec and ModelSpec):
// no package carries KServe's schemas, so the lite check knows them by name.
const RUNTIME_SPEC = ['affinity', 'annotations', 'builtInAdapter', 'containers', 'disabled', 'grpcDataEndpoint', 'grpcEndpoint',
  'httpDataEndpoint', 'imagePullSecrets', 'labels', 'multiModel', 'nodeSelector', 'protocolVersions', 'replicas', 'storageHelper',
  'supportedModelFormats', 'tolerations', 'volumes', 'workerSpec', 'hostIPC'];
const MODEL_FORMAT = ['name', 'version', 'autoSelect', 'priority'];
const PROTOCOLS = ['v1', 'v2', 'grpc-v1', 'grpc-v2'];
const COMPONENT_EXTENSION = ['minReplicas', 'maxReplicas', 'scaleTarget', 'scaleMetric', 'scaleMetricType', 'containerConcurrency',
  'timeout', 'canaryTrafficPercent', 'annotations', 'labels', 'logger', 'batcher', 'deploymentStrategy', 'autoScaling'];
const PREDICTOR_IMPLEMENTATIONS = ['model', 'sklearn', 'xgboost', 'tensorflow', 'pytorch', 'triton', 'onnx', 'huggingface', 'pmml', 'lightgbm', 'paddle', 'workerSpec'];
const MODEL_KEYS = ['modelFormat', 'runtime', 'storageUri', 'protocolVersion', 'storage'];

/** What is wrong with a ServingRuntime or ClusterServingRuntime, or an InferenceService: empty when nothing. */
function kserveProblems(o: Obj): string[] {
  const out: string[] = [];
  const unknown = (obj: Obj, known: string[], at: string) => {
    for (const k of Object.keys(obj ?? {})) if (!known.includes(k)) out.push(`${at}/${k}: unknown field`);
  };
  if (o.kind === 'ClusterServingRuntime' || o.kind === 'ServingRuntime') {
    if (o.apiVersion !== 'serving.kserve.io/v1alpha1') out.push(`apiVersion ${o.apiVersion} is not serving.kserve.io/v1alpha1`);
    unknown(o.spec, RUNTIME_SPEC, '/spec');
    for (const [i, f] of (o.spec.supportedModelFormats ?? []).entries()) {
      unknown(f, MODEL_FORMAT, `/spec/supportedModelFormats/${i}`);
      if (typeof f.name !== 'string') out.push(`/spec/supportedModelFormats/${i}/name: must be a string`);
      if (f.autoSelect !== undefined && typeof f.autoSelect !== 'boolean') out.push(`/spec/supportedModelFormats/${i}/autoSelect: must be a boolean`);
      if (f.priority !== undefined && (!Number.isInteger(f.priority) || f.autoSelect !== true)) out.push(`/spec/supportedModelFormats/${i}/priority: an integer, with autoSelect`);
    }
    for (const p of o.spec.protocolVersions ?? []) if (!PROTOCOLS.includes(p)) out.push(`/spec/protocolVersions: ${p} is not one of ${PROTOCOLS.join(', ')}`);
    for (const [i, c] of (o.spec.containers ?? []).entries()) out.push(...coreProblems('Container', c).map((p) => `/spec/containers/${i}${p}`));
    for (const [i, v] of (o.spec.volumes ?? []).entries()) out.push(...coreProblems('Volume', v).map((p) => `/spec/volumes/${i}${p}`));
  } else if (o.kind === 'InferenceService') {
    if (o.apiVersion !== 'serving.kserve.io/v1beta1') out.push(`apiVersion ${o.apiVersion} is not serving.kserve.io/v1beta1`);
    unknown(o.spec, ['predictor', 'transformer', 'explainer'], '/spec');
    const p = o.spec.predictor ?? {};
    unknown(p, [...PREDICTOR_IMPLEMENTATIONS, ...COMPONENT_EXTENSION, ...fieldNames('v1', 'PodSpec')], '/spec/predictor');
    for (const k of ['minReplicas', 'maxReplicas']) if (p[k] !== undefined && !Number.isInteger(p[k])) out.push(`/spec/predictor/${k}: must be an integer`);
    const { modelFormat, runtime, storageUri, protocolVersion, storage, ...container } = p.model ?? {};
    void runtime; void storage;
    if (typeof modelFormat?.name !== 'string') out.push('/spec/predictor/model/modelFormat/name: must be a string');
    unknown(modelFormat, ['name', 'version'], '/spec/predictor/model/modelFormat');
    if (storageUri !== undefined && typeof storageUri !== 'string') out.push('/spec/predictor/model/storageUri: must be a string');
    if (protocolVersion !== undefined && !PROTOCOLS.includes(protocolVersion)) out.push(`/spec/predictor/model/protocolVersion: ${protocolVersion} is not one of ${PROTOCOLS.join(', ')}`);
    out.push(...coreProblems('Container', { name: 'kserve-container', ...container }).map((x) => `/spec/predictor/model${x}`));
  } else {
    out.push(`${o.kind} is not a KServe kind this check knows`);
  }
  return out;
}

describe('KServe (deploy/kserve)', function () {
  const runtime = yamlDocs(path.join(KSERVE, 'cluster-serving-runtime.yaml'))[0];
  const services = ['inferenceservice-mar.yaml', 'inferenceservice-onnx.yaml'].map((f) => yamlDocs(path.join(KSERVE, f))[0]);
  const container = runtime.spec.containers[0];

  it('the runtime and the InferenceServices pass the check of their containers and known keys', () => {
    expect(kserveProblems(runtime)).to.deep.equal([]);
    for (const isvc of services) expect(kserveProblems(isvc), isvc.metadata.name).to.deep.equal([]);
  });

  it('the check fails on misspelt and mistyped fields', () => {
    const bad = structuredClone(services[0]);
    bad.spec.predictor.model.storageURI = bad.spec.predictor.model.storageUri;
    delete bad.spec.predictor.model.storageUri;
    bad.spec.predictor.maxReplicas = '4';
    bad.spec.predictor.model.protocolVersion = 'v3';
    expect(kserveProblems(bad)).to.have.members([
      '/spec/predictor/model/storageURI: unknown field',
      '/spec/predictor/maxReplicas: must be an integer',
      '/spec/predictor/model/protocolVersion: v3 is not one of v1, v2, grpc-v1, grpc-v2',
    ]);
    const rt = structuredClone(runtime);
    rt.spec.supportedModelFormat = rt.spec.supportedModelFormats;
    rt.spec.supportedModelFormats[0].autoSelect = 'yes';
    rt.spec.protocolVersions.push('v9');
    rt.spec.containers[0].readinesProbe = {};
    expect(kserveProblems(rt)).to.have.members([
      '/spec/supportedModelFormat: unknown field',
      '/spec/supportedModelFormats/0/autoSelect: must be a boolean',
      '/spec/supportedModelFormats/0/priority: an integer, with autoSelect',
      '/spec/protocolVersions: v9 is not one of v1, v2, grpc-v1, grpc-v2',
      '/spec/containers/0/readinesProbe: unknown field',
    ]);
  });

  it('the runtime: onnx and mar, v1 and v2, Prometheus annotations, a non-root container on 8080', () => {
    expect(runtime.spec.supportedModelFormats.map((f: Obj) => f.name)).to.have.members(['onnx', 'mar']);
    expect(runtime.spec.protocolVersions).to.have.members(['v1', 'v2']);
    expect(runtime.spec.annotations).to.include({ 'prometheus.kserve.io/port': '8082', 'prometheus.kserve.io/path': '/metrics' });
    expect(container.name).to.equal('kserve-container');
    expect(container.ports).to.deep.equal([{ containerPort: 8080, protocol: 'TCP' }]);
    expect(container.securityContext).to.include({ runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    const volumes = runtime.spec.volumes.map((v: Obj) => v.name);
    for (const m of container.volumeMounts) expect(volumes, m.mountPath).to.include(m.name);
    for (const isvc of services) expect(isvc.spec.predictor.model.runtime).to.equal(runtime.metadata.name);
  });

  describe("the runtime's command line and environment on a real server, with /mnt/models as KServe leaves it", function () {
    this.timeout(120_000);
    let store: TestStore;
    let root: string;
    before(async () => {
      store = await TestStore.create();
      await store.add({ name: 'add', model: addOne(), handler: 'tensor' });
      await store.add({ name: 'mlp', model: mlp(), handler: 'tensor' });
    });
    beforeEach(async () => {
      root = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-kserve-'));
    });
    afterEach(async () => {
      await fs.rm(root, { recursive: true, force: true });
    });
    after(async () => store.remove());

    /** Starts the server as the runtime would (its args and env over the image's config), on free loopback ports. */
    async function serveAsRuntime(name: string): Promise<{ inference: string; stop: () => Promise<void> }> {
      const mnt = path.join(root, 'mnt', 'models');
      const args = (container.args as string[]).map((a) => a.replace('/mnt/models', mnt).replace('{{.Name}}', name));
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        TS_CONFIG_FILE: path.join(DEPLOY, 'docker', 'config.properties'),
        MS_ENABLE_ENVVARS_CONFIG: 'true',
        ...Object.fromEntries(container.env.map((e: Obj) => [e.name, e.value])),
        MS_INFERENCE_ADDRESS: 'http://127.0.0.1:0',
        MS_MANAGEMENT_ADDRESS: 'http://127.0.0.1:0',
        MS_METRICS_ADDRESS: 'http://127.0.0.1:0',
        MS_KEY_FILE: path.join(root, 'key_file.json'),
      };
      const pidFile = path.join(root, 'ms.pid');
      const bin = path.join(ROOT, 'bin', 'modelserver.js');
      await run(process.execPath, [bin, '--start', ...args, '--pid-file', pidFile, '--log-file', path.join(root, 'ms.log')], { cwd: root, env });
      const info = JSON.parse(await fs.readFile(pidFile, 'utf8')) as { inference: string };
      return { inference: info.inference, stop: async () => void (await run(process.execPath, [bin, '--stop', '--pid-file', pidFile], { env })) };
    }

    async function place(files: Record<string, string>): Promise<void> {
      const mnt = path.join(root, 'mnt', 'models');
      await fs.mkdir(mnt, { recursive: true });
      for (const [to, from] of Object.entries(files)) await fs.copyFile(path.join(store.dir, from), path.join(mnt, to));
    }

    it('a .mar: served under the InferenceService name over KServe v1, without a token', async () => {
      await place({ 'model.mar': 'add.mar' });
      const server = await serveAsRuntime('adder');
      try {
        const res = await fetch(`${server.inference}/v1/models/adder:predict`, {
          method: 'POST',
          body: JSON.stringify({ instances: [{ inputs: { x: [[1, 2, 3, 4]] } }] }),
        });
        expect(res.status).to.equal(200);
        expect(await res.json()).to.deep.equal({ predictions: [{ outputs: { y: [[2, 3, 4, 5]] } }] });
        expect((await fetch(`${server.inference}/v2/health/ready`)).status).to.equal(200);
      } finally {
        await server.stop();
      }
    });

    it('a bare model.onnx: served with the tensor handler under the InferenceService name, over v2 and v1', async () => {
      const mnt = path.join(root, 'mnt', 'models');
      await fs.mkdir(mnt, { recursive: true });
      await fs.writeFile(path.join(mnt, 'model.onnx'), addOne());
      const server = await serveAsRuntime('adder-onnx');
      try {
        const meta = (await (await fetch(`${server.inference}/v2/models/adder-onnx`)).json()) as Obj;
        expect(meta).to.deep.include({ name: 'adder-onnx', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }] });
        const res = await fetch(`${server.inference}/v2/models/adder-onnx/infer`, {
          method: 'POST',
          body: JSON.stringify({ inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4, 0, 0, 0, 0] }] }),
        });
        expect(res.status).to.equal(200);
        expect(((await res.json()) as { outputs: { name: string; data: number[] }[] }).outputs).to.deep.include({ name: 'y', datatype: 'FP32', shape: [2, 4], data: [2, 3, 4, 5, 1, 1, 1, 1] });
        const v1 = await fetch(`${server.inference}/v1/models/adder-onnx:predict`, { method: 'POST', body: JSON.stringify({ instances: [{ inputs: { x: [[1, 1, 1, 1]] } }] }) });
        expect(await v1.json()).to.deep.equal({ predictions: [{ outputs: { y: [[2, 2, 2, 2]] } }] });
      } finally {
        await server.stop();
      }
    });

    it('a folder of .mar archives: each under its own name, over v2', async () => {
      await place({ 'add.mar': 'add.mar', 'mlp.mar': 'mlp.mar' });
      const server = await serveAsRuntime('both');
      try {
        const res = await fetch(`${server.inference}/v2/models/add/infer`, {
          method: 'POST',
          body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
        });
        expect(res.status).to.equal(200);
        expect(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0].data).to.deep.equal([2, 3, 4, 5]);
        const meta = (await (await fetch(`${server.inference}/v2/models/mlp`)).json()) as { name: string };
        expect(meta.name).to.equal('mlp');
        expect((await fetch(`${server.inference}/v2/models/both`)).status).to.equal(404);
      } finally {
        await server.stop();
      }
    });
  });
});
