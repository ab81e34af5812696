import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseProperties } from '../../src/config/properties.ts';
import { loadConfig } from '../../src/config/config.ts';
import { securityPlan } from '../../src/security/policy.ts';
import { DEPLOY, hasKubectl, k8sProblems, kustomize, yamlDocs } from './k8s-schema.ts';

const K8S = path.join(DEPLOY, 'kubernetes');
const TARGETS = ['base', ...fs.readdirSync(path.join(K8S, 'overlays')).map((o) => `overlays/${o}`)];
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('Kubernetes manifests (deploy/kubernetes)', function () {
  const rendered = new Map<string, Obj[]>();
  before(function () {
    if (!hasKubectl()) {
      console.log('      (skipped: kubectl is not on PATH; it renders the kustomize base and overlays)');
      this.skip();
    }
    for (const t of TARGETS) rendered.set(t, kustomize(path.join(K8S, t)));
  });
  const of = (target: string, kind: string): Obj => {
    const found = rendered.get(target)!.find((o) => o.kind === kind);
    expect(found, `${target} renders a ${kind}`).to.not.equal(undefined);
    return found!;
  };
  const server = (target: string) => of(target, 'Deployment').spec.template.spec.containers.find((c: Obj) => c.name === 'modelserver');
  const configOf = (target: string) => {
    const cm = rendered.get(target)!.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('modelserver-config'))!;
    return cm.data as Record<string, string>;
  };

  for (const target of TARGETS) {
    it(`${target}: every object validates against the Kubernetes schemas, with no unknown field`, () => {
      const objs = rendered.get(target)!;
      expect(objs.map((o) => o.kind)).to.include.members(['Deployment', 'Service', 'ConfigMap', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy']);
      for (const o of objs) expect(k8sProblems(o), `${o.kind} ${o.metadata?.name}`).to.deep.equal([]);
    });
  }

  it('the check fails on a broken manifest: a misspelt probe, a bad quantity, a string count', () => {
    const d = structuredClone(of('base', 'Deployment'));
    const c = d.spec.template.spec.containers[0];
    c.readinesProbe = c.readinessProbe;
    delete c.readinessProbe;
    c.resources.limits.memory = 'two gigs';
    d.spec.replicas = '2';
    d.spec.template.spec.securityContext.runAsNonroot = true;
    const problems = k8sProblems(d);
    expect(problems).to.include('/spec/template/spec/containers/0/readinesProbe: unknown field');
    expect(problems).to.include('/spec/template/spec/securityContext/runAsNonroot: unknown field');
    expect(problems).to.include('/spec/replicas: must be integer');
    expect(problems.some((p) => p.startsWith('/spec/template/spec/containers/0/resources/limits/memory'))).to.equal(true);
    expect(k8sProblems({ apiVersion: 'autoscaling/v9', kind: 'HorizontalPodAutoscaler' })[0]).to.contain('not a Kubernetes API version');
  });

  it('probes: startup on /ping, readiness on /v2/health/ready, liveness on /v2/health/live, all on the inference port', () => {
    const c = server('base');
    const port = c.ports.find((p: Obj) => p.name === 'inference');
    expect(port.containerPort).to.equal(8080);
    expect(c.startupProbe.httpGet).to.deep.equal({ path: '/ping', port: 'inference' });
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).to.be.at.least(60);
    expect(c.readinessProbe.httpGet).to.deep.equal({ path: '/v2/health/ready', port: 'inference' });
    expect(c.livenessProbe.httpGet).to.deep.equal({ path: '/v2/health/live', port: 'inference' });
  });

  it('the grace period outlasts the preStop pause plus the drain the config allows', () => {
    const pod = of('base', 'Deployment').spec.template.spec;
    const c = server('base');
    const pause = Number(c.lifecycle.preStop.exec.command.at(-1));
    const drain = Number(parseProperties(configOf('base')['config.properties']).unregister_model_timeout);
    expect(pause).to.be.greaterThan(0);
    expect(drain).to.be.greaterThan(0);
    expect(pod.terminationGracePeriodSeconds).to.be.greaterThan(pause + drain);
  });

  it('runs as non-root from a read-only root, without capabilities, under seccomp RuntimeDefault; writable folders are volumes', () => {
    const pod = of('base', 'Deployment').spec.template.spec;
    expect(pod.securityContext).to.include({ runAsNonRoot: true, runAsUser: 1000 });
    expect(pod.securityContext.seccompProfile).to.deep.equal({ type: 'RuntimeDefault' });
    for (const c of [...pod.containers, ...pod.initContainers]) {
      expect(c.securityContext, c.name).to.deep.equal({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
    const mounts = Object.fromEntries(server('base').volumeMounts.map((m: Obj) => [m.mountPath, m]));
    expect(Object.keys(mounts)).to.include.members(['/etc/modelserver', '/models', '/var/lib/modelserver', '/tmp']);
    expect(mounts['/models'].readOnly).to.equal(true);
    const volumes = Object.fromEntries(pod.volumes.map((v: Obj) => [v.name, v]));
    expect(volumes[mounts['/models'].name].persistentVolumeClaim.claimName).to.equal(of('base', 'PersistentVolumeClaim').metadata.name);
    expect(volumes[mounts['/etc/modelserver'].name].configMap.name).to.match(/^modelserver-config/);
    expect(pod.initContainers[0].command.join(' ')).to.contain('/etc/modelserver/fill-model-store.sh');
    expect(configOf('base')).to.have.property('fill-model-store.sh');
  });

  it('its config.properties is one the server takes without a warning, listening on the pod with the management port open only because it is fenced', () => {
    expect(server('base').args).to.deep.equal(['--ts-config', '/etc/modelserver/config.properties']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms-k8s-config-'));
    try {
      fs.writeFileSync(path.join(dir, 'config.properties'), configOf('base')['config.properties']);
      const warnings: string[] = [];
      const config = loadConfig({ configFile: path.join(dir, 'config.properties'), env: {}, warn: (m) => warnings.push(m) });
      expect(warnings).to.deep.equal([]);
      expect(config.inferenceAddress).to.include({ host: '0.0.0.0', port: 8080 });
      expect(config.managementAddress).to.include({ host: '0.0.0.0', port: 8081 });
      expect(config.enableModelApi).to.equal(false);
      expect(securityPlan(config).tokens).to.equal(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Service: ClusterIP with named ports, no management; the loadbalancer overlay makes it a LoadBalancer', () => {
    const svc = of('base', 'Service');
    expect(svc.spec.type).to.equal('ClusterIP');
    expect(svc.spec.ports.map((p: Obj) => [p.name, p.port, p.targetPort])).to.deep.equal([['http-inference', 8080, 'inference'], ['http-metrics', 8082, 'metrics']]);
    expect(of('overlays/loadbalancer', 'Service').spec.type).to.equal('LoadBalancer');
    const selector = svc.spec.selector;
    expect(of('base', 'Deployment').spec.template.metadata.labels).to.include(selector);
  });

  it('NetworkPolicy: management only from pods of the namespace; inference and metrics open', () => {
    const np = of('base', 'NetworkPolicy').spec;
    const mgmt = np.ingress.find((r: Obj) => r.ports.some((p: Obj) => p.port === 'management'));
    expect(mgmt.from).to.deep.equal([{ podSelector: {} }]);
    const open = np.ingress.find((r: Obj) => r.from === undefined);
    expect(open.ports.map((p: Obj) => p.port)).to.have.members(['inference', 'metrics']);
    expect(of('base', 'Deployment').spec.template.metadata.labels).to.include(np.podSelector.matchLabels);
  });

  it('Prometheus annotations name the metrics port; a PDB and an autoscaling/v2 HPA on CPU cover the Deployment', () => {
    const d = of('base', 'Deployment');
    expect(d.spec.template.metadata.annotations).to.deep.equal({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8082', 'prometheus.io/path': '/metrics' });
    expect(server('base').ports.find((p: Obj) => p.name === 'metrics').containerPort).to.equal(8082);
    expect(d.spec.template.metadata.labels).to.include(of('base', 'PodDisruptionBudget').spec.selector.matchLabels);
    const hpa = of('base', 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).to.equal('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).to.deep.equal({ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name });
    expect(hpa.spec.metrics[0].resource.name).to.equal('cpu');
    expect(server('base').resources.requests.cpu, 'CPU utilisation needs a request').to.be.a('string');
  });

  it('spreads the replicas over nodes, with a selector that matches its own pods', () => {
    const d = of('base', 'Deployment');
    const [spread] = d.spec.template.spec.topologySpreadConstraints;
    expect(spread).to.include({ topologyKey: 'kubernetes.io/hostname', maxSkew: 1 });
    expect(d.spec.template.metadata.labels).to.include(spread.labelSelector.matchLabels);
    expect(d.spec.replicas).to.be.greaterThan(1);
  });

  it('queue-latency overlay: the HPA asks for the metric the prometheus-adapter rule serves, from a metric the server has', () => {
    const hpa = of('overlays/queue-latency-autoscaling', 'HorizontalPodAutoscaler');
    const [values] = yamlDocs(path.join(K8S, 'prometheus-adapter', 'values.yaml'));
    const rule = values.rules.custom[0];
    expect(hpa.spec.metrics).to.have.length(1);
    expect(hpa.spec.metrics[0].type).to.equal('Pods');
    expect(hpa.spec.metrics[0].pods.metric.name).to.equal(rule.name.as);
    expect(rule.seriesQuery).to.match(/^modelserver_queue_duration_seconds_count\{/);
    expect(rule.metricsQuery).to.contain('modelserver_queue_duration_seconds_sum');
  });

  it('gpu overlay: one nvidia.com/gpu, node selector and toleration, the gpu image, deviceType: gpu in the model config', () => {
    const pod = of('overlays/gpu', 'Deployment').spec.template.spec;
    const c = pod.containers.find((x: Obj) => x.name === 'modelserver');
    expect(c.resources.limits['nvidia.com/gpu']).to.equal(1);
    expect(c.image).to.match(/-gpu$/);
    expect(pod.nodeSelector).to.have.property('nvidia.com/gpu.present', 'true');
    expect(pod.tolerations).to.deep.include({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    const cm = configOf('overlays/gpu');
    expect(cm['model-config.yaml']).to.match(/^deviceType: gpu$/m);
    expect(cm['fill-model-store.sh']).to.contain('/etc/modelserver/model-config.yaml');
    expect(c.env).to.deep.include({ name: 'MS_NUMBER_OF_GPU', value: '1' });
  });
});
