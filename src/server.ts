/**
 * The composition root: config → registry, pools, listeners; graceful stop. Nothing else wires rooms together.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs/promises';
import path from 'node:path';
import type Koa from 'koa';
import { createInferenceApp } from './api/inference-app.ts';
import { createManagementApp } from './api/management-app.ts';
import { createMetricsApp } from './api/metrics-app.ts';
import { intraOpThreadsFor, type Address, type LoadModel, type ServerConfig } from './config/config.ts';
import { createLogger, type Logger } from './log.ts';
import { ServerMetrics } from './metrics/metrics.ts';
import { Registry } from './registry/registry.ts';
import { WorkDir } from './registry/workdir.ts';

export interface RunningServer {
  readonly inferenceUrl: string;
  readonly managementUrl: string;
  readonly metricsUrl: string;
  readonly registry: Registry;
  /** Stops accepting requests, lets in-flight ones finish, unloads every model. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Where extracted archives go (a fresh folder inside it); defaults to the OS temp folder. */
  workDirParent?: string;
}

async function listen(app: Koa, addr: Address): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  return { server, url: `${addr.scheme}://${host}:${port}` };
}

async function close(server: http.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** Archives and no-archive folders in the model store, for `load_models=all`. */
async function everyArchive(store: string): Promise<LoadModel[]> {
  const entries = await fs.readdir(store, { withFileTypes: true });
  const out: LoadModel[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isFile() && e.name.endsWith('.mar')) out.push({ url: e.name });
    else if (e.isDirectory()) {
      const manifest = path.join(store, e.name, 'MAR-INF', 'MANIFEST.json');
      if (await fs.stat(manifest).then(() => true, () => false)) out.push({ url: e.name });
    }
  }
  return out;
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger();
  const workDir = await WorkDir.create(opts.workDirParent);
  const metrics = new ServerMetrics();
  const registry = new Registry({
    modelStore: config.modelStore,
    workDir,
    defaults: {
      minWorkers: config.defaultWorkersPerModel,
      maxWorkers: config.defaultWorkersPerModel,
      batchSize: config.batchSize,
      maxBatchDelay: config.maxBatchDelay,
      responseTimeout: config.defaultResponseTimeout,
      jobQueueSize: config.jobQueueSize,
      intraOpThreads: config.intraOpThreads || undefined,
    },
    threadsFor: (workers) => intraOpThreadsFor(workers, config.cpuCount, config.intraOpThreads),
    unregisterTimeoutMs: config.unregisterModelTimeout * 1000,
  });
  let starting = true;
  const servers: http.Server[] = [];
  try {
    const inference = await listen(
      createInferenceApp({
        registry,
        metrics,
        log,
        maxRequestSize: config.maxRequestSize,
        healthy: () => !starting && registry.healthy(),
      }),
      config.inferenceAddress,
    );
    servers.push(inference.server);
    const management = await listen(createManagementApp({ registry, metrics, log }), config.managementAddress);
    servers.push(management.server);
    const metricsListener = await listen(createMetricsApp({ metrics, log }), config.metricsAddress);
    servers.push(metricsListener.server);

    const toLoad = config.loadModels === 'all' ? (config.modelStore ? await everyArchive(config.modelStore) : []) : (config.loadModels ?? []);
    await Promise.all(
      toLoad.map(async (m) => {
        try {
          const mv = await registry.register({ url: m.url, modelName: m.name, loadedAtStartup: true });
          log.info({ model: mv.name, version: mv.version, workers: mv.readyWorkers }, 'model loaded');
        } catch (err) {
          log.error({ url: m.url, error: (err as Error).message }, 'model failed to load at start-up');
        }
      }),
    );
    starting = false;
    log.info({ inference: inference.url, management: management.url, metrics: metricsListener.url }, 'modelserver started');

    let stopping: Promise<void> | undefined;
    return {
      inferenceUrl: inference.url,
      managementUrl: management.url,
      metricsUrl: metricsListener.url,
      registry,
      stop: () =>
        (stopping ??= (async () => {
          await Promise.all(servers.map(close));
          await registry.close();
          await workDir.destroy();
          log.info('modelserver stopped');
        })()),
    };
  } catch (err) {
    await Promise.all(servers.map((s) => close(s)));
    await registry.close();
    await workDir.destroy();
    throw err;
  }
}
