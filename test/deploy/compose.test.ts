import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';
import { DEPLOY, yamlDocs } from './k8s-schema.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPOSE = path.join(DEPLOY, 'compose');

/** Metric names a PromQL expression reads (histogram series by their metric's name). */
function metricsIn(expr: string): string[] {
  const names = expr.match(/\b(?:modelserver|ts)_[a-z_]+\b|\bRequests[245]XX\b/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|count|sum)$/, '')))];
}

/** Every metric name a running server exposes (its `# TYPE` lines). */
async function exposed(server: RunningServer): Promise<Set<string>> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
}

describe('Compose (compose.yaml) and its Prometheus and Grafana files', () => {
  const compose = yamlDocs(path.join(ROOT, 'compose.yaml'))[0];
  const gpu = yamlDocs(path.join(ROOT, 'compose.gpu.yaml'))[0];
  const ms = compose.services.modelserver;
  const dashboard = JSON.parse(fs.readFileSync(path.join(COMPOSE, 'grafana', 'dashboards', 'modelserver.json'), 'utf8')) as Obj;
  const targets = (dashboard.panels as Obj[]).flatMap((p) => (p.targets as Obj[]).map((t) => ({ panel: p.title as string, expr: t.expr as string })));

  it('starts the server, Prometheus and Grafana, in that order', () => {
    expect(Object.keys(compose.services)).to.have.members(['modelserver', 'prometheus', 'grafana']);
    expect(compose.services.prometheus.depends_on).to.deep.equal(['modelserver']);
    expect(compose.services.grafana.depends_on).to.deep.equal(['prometheus']);
    for (const v of Object.values(compose.services) as Obj[]) {
      for (const mount of v.volumes ?? []) {
        const [from] = String(mount).split(':');
        if (from.startsWith('.')) expect(fs.existsSync(path.join(ROOT, from)), from).to.equal(true);
        else expect(compose.volumes, from).to.have.property(from);
      }
    }
  });

  it('the server: built from the Dockerfile, read-only root with /tmp and its state folder writable, both ports, a grace period longer than its drain', () => {
    expect(ms.build).to.deep.equal({ context: '.', target: 'runtime' });
    expect(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).to.match(/^FROM \S+ AS runtime$/m);
    expect(ms.read_only).to.equal(true);
    expect(ms.tmpfs).to.deep.equal(['/tmp']);
    expect(ms.volumes).to.include('state:/var/lib/modelserver');
    expect(ms.ports.map((p: string) => p.split(':').at(-1))).to.deep.equal(['8080', '8082']);
    expect(ms.ports.every((p: string) => p.startsWith('${MODELSERVER_BIND:-127.0.0.1}:'))).to.equal(true);
    expect(parseInt(ms.stop_grace_period, 10)).to.be.greaterThan(Number(ms.environment.MS_UNREGISTER_MODEL_TIMEOUT));
  });

  it('Prometheus scrapes the server service on its metrics port; Grafana reads Prometheus and the mounted dashboards', () => {
    const prom = yamlDocs(path.join(COMPOSE, 'prometheus.yml'))[0];
    expect(prom.scrape_configs[0].static_configs[0].targets).to.deep.equal(['modelserver:8082']);
    expect(prom.scrape_configs[0].metrics_path).to.equal('/metrics');
    const ds = yamlDocs(path.join(COMPOSE, 'grafana', 'provisioning', 'datasources', 'prometheus.yaml'))[0].datasources[0];
    expect(ds).to.include({ type: 'prometheus', url: 'http://prometheus:9090', uid: 'prometheus' });
    const provider = yamlDocs(path.join(COMPOSE, 'grafana', 'provisioning', 'dashboards', 'modelserver.yaml'))[0].providers[0];
    expect(compose.services.grafana.volumes).to.include(`./deploy/compose/grafana/dashboards:${provider.options.path}:ro`);
    for (const p of dashboard.panels as Obj[]) expect(p.datasource.uid, p.title).to.equal(ds.uid);
  });

  it('the dashboard shows requests per second, latency quantiles, queue length, workers per model and errors per status class', () => {
    const byTitle = (re: RegExp) => targets.filter((t) => re.test(t.panel)).map((t) => t.expr).join('\n');
    expect(byTitle(/Requests per second/)).to.contain('rate(modelserver_request_duration_seconds_count');
    expect(byTitle(/latency/)).to.match(/histogram_quantile\(0\.5,[\s\S]*histogram_quantile\(0\.95,[\s\S]*histogram_quantile\(0\.99,/);
    expect(byTitle(/Queue length/)).to.contain('modelserver_queue_depth');
    expect(byTitle(/workers/)).to.contain('modelserver_ready_workers');
    expect(byTitle(/Errors/)).to.contain('Requests4XX').and.contain('Requests5XX');
  });

  describe('against a real server', function () {
    let store: TestStore;
    let server: RunningServer;
    before(async () => {
      store = await TestStore.create();
      await store.add({ name: 'add', model: addOne(), handler: 'tensor' });
      server = await startTestServer(store, ['add.mar']);
    });
    after(async () => {
      await server?.stop();
      await store?.remove();
    });

    it('every metric the dashboard and the prometheus-adapter rule read is one the server exposes', async () => {
      const names = await exposed(server);
      const [adapter] = yamlDocs(path.join(DEPLOY, 'kubernetes', 'prometheus-adapter', 'values.yaml'));
      const exprs = [...targets.map((t) => t.expr), dashboard.templating.list[0].query.query, adapter.rules.custom[0].seriesQuery, adapter.rules.custom[0].metricsQuery];
      const used = [...new Set(exprs.flatMap(metricsIn))];
      expect(used.length).to.be.greaterThan(5);
      expect(used.filter((n) => !names.has(n))).to.deep.equal([]);
    });
  });

  it('the GPU override builds the gpu target and reserves one NVIDIA GPU', () => {
    const s = gpu.services.modelserver;
    expect(s.build.target).to.equal('gpu');
    expect(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).to.match(/^FROM \S+ AS gpu$/m);
    expect(s.deploy.resources.reservations.devices).to.deep.equal([{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
  });
});
