import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { addOne } from '../../scripts/lib/onnx-models.ts';
import { needsRelaunch } from '../../src/cli/malloc.ts';
import { loadConfig } from '../../src/config/config.ts';
import { KEYS } from '../../src/config/keys.ts';
import { securityPlan } from '../../src/security/policy.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOCKERFILE = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const HEALTHCHECK = path.join(ROOT, 'deploy', 'docker', 'healthcheck.mjs');

/** Instructions (continuation lines joined, comments dropped) of the stage named `name`. */
function stage(name: string): string[] {
  const lines = DOCKERFILE.replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const start = lines.findIndex((l) => new RegExp(`^FROM \\S+ AS ${name}$`).test(l));
  expect(start, `stage ${name}`).to.be.at.least(0);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('FROM '));
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** ENV of a stage as a map. */
function envOf(name: string): Record<string, string> {
  const env = stage(name).filter((l) => l.startsWith('ENV ')).map((l) => l.slice(4)).join(' ');
  return Object.fromEntries([...env.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
}

describe('Dockerfile', () => {
  it('the gpu stage is the runtime stage on another base: the same instructions but where /app comes from', () => {
    const gpu = stage('gpu').filter((l) => !l.startsWith('COPY --from=build /usr/local/bin/node'));
    const cpu = stage('runtime');
    expect(gpu.map((l) => l.replace('--from=build-gpu', '--from=build'))).to.deep.equal(cpu);
    expect(gpu).to.include('COPY --from=build-gpu /app /app');
    expect(stage('build-gpu').join('\n')).to.contain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node');
  });

  it('runs as uid 1000 (numeric, for runAsNonRoot), the server as PID 1 with the malloc settings already set', () => {
    const cpu = stage('runtime');
    expect(cpu).to.include('USER 1000:1000');
    const env = envOf('runtime');
    expect(needsRelaunch({ GLIBC_TUNABLES: env.GLIBC_TUNABLES }), 'the image ENV lacks a malloc setting: PID 1 would relaunch').to.equal(false);
    expect(cpu.find((l) => l.startsWith('ENTRYPOINT'))).to.contain('"--foreground"');
    expect(cpu.find((l) => l.startsWith('HEALTHCHECK'))).to.contain('/app/container/healthcheck.mjs');
    expect(cpu).to.include('VOLUME ["/var/lib/modelserver", "/tmp"]');
  });

  it('every file the build copies is in the build context (.dockerignore)', () => {
    const allowed = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = [...DOCKERFILE.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(sources.length).to.be.greaterThan(5);
    for (const src of sources) {
      expect(allowed.some((a) => src === a || src.startsWith(`${a}/`)), `${src} is kept out by .dockerignore`).to.equal(true);
      expect(fs.existsSync(path.join(ROOT, src)), src).to.equal(true);
    }
  });

  it("the image's config: every key known, inference and metrics open, management on loopback, tokens on, keys in the state volume", () => {
    const env = envOf('runtime');
    expect(env.TS_CONFIG_FILE).to.equal('/app/container/config.properties');
    expect(DOCKERFILE).to.contain('COPY deploy/docker/config.properties /app/container/config.properties');
    const warnings: string[] = [];
    const config = loadConfig({ configFile: path.join(ROOT, 'deploy', 'docker', 'config.properties'), env: {}, warn: (m) => warnings.push(m) });
    expect(warnings).to.deep.equal([]);
    expect(config.inferenceAddress.host).to.equal('0.0.0.0');
    expect(config.metricsAddress.host).to.equal('0.0.0.0');
    expect(config.managementAddress.host).to.equal('127.0.0.1');
    expect(securityPlan(config).tokens).to.equal(true);
    expect(config.keyFile).to.equal('/var/lib/modelserver/key_file.json');
    expect(config.unregisterModelTimeout, 'the drain fits docker stop\'s 10 s').to.be.below(10);
  });

  it('any key can come from the environment in the container (MS_<KEY> beats the image file)', () => {
    const env = { MS_ENABLE_ENVVARS_CONFIG: 'true', MS_MODEL_STORE: '/models', MS_DISABLE_TOKEN_AUTHORIZATION: 'true', MS_JOB_QUEUE_SIZE: '7', TS_BATCH_SIZE: '4' };
    const config = loadConfig({ configFile: path.join(ROOT, 'deploy', 'docker', 'config.properties'), env });
    expect(config).to.include({ modelStore: '/models', disableTokenAuthorization: true, jobQueueSize: 7, batchSize: 4 });
    expect(securityPlan(config).tokens).to.equal(false);
  });

  it('every config key is read from MS_<KEY> in the container: its value is taken, or refused naming the variable', () => {
    const base = { MS_ENABLE_ENVVARS_CONFIG: 'true', MS_USE_ENV_ALLOWED_URLS: 'true' };
    const configFile = path.join(ROOT, 'deploy', 'docker', 'config.properties');
    const keys = Object.keys(KEYS).filter((k) => k !== 'enable_envvars_config' && k !== 'use_env_allowed_urls');
    expect(keys.length).to.be.greaterThan(40);
    for (const key of keys) {
      const name = `MS_${key.toUpperCase()}`;
      let config;
      try {
        config = loadConfig({ configFile, env: { ...base, [name]: 'from-env' } });
      } catch (e) {
        expect((e as Error).message, key).to.contain(`environment variable ${name}`);
        continue;
      }
      expect(config.properties[key], key).to.equal('from-env');
    }
  });

  describe('the HEALTHCHECK script', function () {
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
    const check = (address: string) =>
      run(process.execPath, [HEALTHCHECK], { env: { ...process.env, MS_INFERENCE_ADDRESS: address } }).then(() => 0, (e: { code: number }) => e.code);

    it('exits 0 when /ping is Healthy, asking 127.0.0.1 for a server bound to every interface', async () => {
      const port = new URL(server.inferenceUrl).port;
      expect(await check(`http://127.0.0.1:${port}`)).to.equal(0);
      // The test server is on 127.0.0.1 only: [::] reaches it only through the script's rewrite to 127.0.0.1.
      expect(await check(`http://[::]:${port}`)).to.equal(0);
    });

    it('exits 1 when nothing answers', async () => {
      const { createServer } = await import('node:net');
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as { port: number }).port;
      await new Promise((r) => probe.close(r));
      expect(await check(`http://127.0.0.1:${port}`)).to.equal(1);
    });
  });
});
