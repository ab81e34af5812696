/**
 * The composition root: config → registry, pools, listeners; graceful stop. Nothing else wires rooms together.
 */
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs/promises';
import path from 'node:path';
import type Koa from 'koa';
import { createInferenceApp } from './api/inference-app.ts';
import { createManagementApp } from './api/management-app.ts';
import { createMetricsApp } from './api/metrics-app.ts';
import { startGrpc, stopGrpc, type GrpcListener } from './api/grpc/listeners.ts';
import { intraOpThreadsFor, type Address, type LoadModel, type ServerConfig } from './config/config.ts';
import { DrainGate } from './drain.ts';
import { createLogger, type Logger } from './log.ts';
import { ServerMetrics } from './metrics/metrics.ts';
import { urlResolver } from './archive/download.ts';
import type { RestartPolicy } from './pool/model-pool.ts';
import type { AutoscaleOptions } from './registry/autoscaler.ts';
import type { ModelSettings } from './registry/model-version.ts';
import { Registry } from './registry/registry.ts';
import { checkModelStore, listenError } from './startup-checks.ts';
import { SnapshotWriter, type ModelSnapshot } from './registry/snapshot.ts';
import { everyArchive, loadModels, restoreSnapshot, startRepository, type StartupFailure } from './registry/startup.ts';
import { WorkDir } from './registry/workdir.ts';
import { setUpSecurity } from './security/setup.ts';
import { createListener, type TlsFiles } from './security/tls.ts';
import { LINGER_MS, LingeringResponse } from './linger.ts';

export interface RunningServer {
  readonly inferenceUrl: string;
  readonly managementUrl: string;
  readonly metricsUrl: string;
  /** host:port of the gRPC listeners (inference: Triton's and TorchServe's inference services; management). */
  readonly grpcInferenceTarget: string;
  readonly grpcManagementTarget: string;
  readonly registry: Registry;
  /** Models named at start (load_models, --models, the snapshot) that did not load, with the reason. */
  readonly startupFailures: readonly StartupFailure[];
  /** Stops accepting requests, lets in-flight ones finish, unloads every model. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Where extracted archives go (a fresh folder inside it); defaults to the OS temp folder. */
  workDirParent?: string;
  /** Folder of the model snapshot, written after every change; undefined: no snapshots (--ncs). */
  snapshotDir?: string;
  /** A snapshot to restore instead of `load_models`. */
  restore?: ModelSnapshot;
  autoscale?: AutoscaleOptions;
  restart?: RestartPolicy;
  /** How long a graceful stop waits for requests in flight (default: unregister_model_timeout). */
  drainTimeoutMs?: number;
  /** The clock token expiry reads, ms since the epoch (default Date.now). */
  clock?: () => number;
}

/** After the drain, how long open gRPC streams (health Watch) get before the gRPC listeners are closed hard. */
const GRPC_CLOSE_GRACE_MS = 1000;

/** Largest archive fetched by URL. */
const MAX_DOWNLOAD_BYTES = 2 * 1024 ** 3;

/** config.properties' `models` JSON entry for one version, as model settings. */
function perModelSettings(config: ServerConfig, name: string, version: string): Partial<ModelSettings> | undefined {
  const c = config.models[name]?.[version];
  if (!c) return undefined;
  const out: Partial<ModelSettings> = {};
  if (c.minWorkers !== undefined) out.minWorkers = c.minWorkers;
  if (c.maxWorkers !== undefined) out.maxWorkers = c.maxWorkers;
  if (c.batchSize !== undefined) out.batchSize = c.batchSize;
  if (c.maxBatchDelay !== undefined) out.maxBatchDelay = c.maxBatchDelay;
  if (c.responseTimeout !== undefined) out.responseTimeout = c.responseTimeout;
  if (c.queueTimeout !== undefined) out.queueTimeout = c.queueTimeout;
  return out;
}

async function listen(
  app: Koa,
  addr: Address,
  gate: DrainGate,
  tls?: TlsFiles,
  maxConnections = 0,
  setting = 'the address',
): Promise<{ server: http.Server; url: string }> {
  const server = createListener(gate.wrap(app.callback()), addr, tls, { ServerResponse: LingeringResponse as typeof http.ServerResponse });
  // Past max_connections Node closes new connections at once: a flood of sockets cannot starve the event loop.
  if (maxConnections > 0) server.maxConnections = maxConnections;
  gate.watch(server);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, setting, addr)));
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  return { server, url: `${addr.scheme}://${host}:${port}` };
}

/** Stops accepting connections; idle keep-alive connections close now, busy ones after their response. */
async function close(server: http.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/**
 * Stops accepting connections and leaves the open ones alone (http.Server.close would also close the idle
 * keep-alive ones at once, racing requests their clients are sending). Resolves once every connection has ended.
 */
function stopListening(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    net.Server.prototype.close.call(server, () => resolve());
  });
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger();
  await checkModelStore(config);
  // Refuses an open management API before anything is created; writes the key file when tokens are on.
  const security = await setUpSecurity(config, { log, now: opts.clock });
  const workDir = await WorkDir.create(opts.workDirParent).catch(async (err: unknown) => {
    await security.close();
    throw err;
  });
  const metrics = new ServerMetrics({ warn: (msg, extra) => log.warn(extra, msg) });
  const registry = new Registry({
    modelStore: config.modelStore,
    modelRepository: config.modelRepository,
    strictModelConfig: config.strictModelConfig,
    modelControlMode: config.modelControlMode,
    defaultMaxBatchSize: config.defaultMaxBatchSize,
    workDir,
    defaults: {
      minWorkers: config.defaultWorkersPerModel,
      maxWorkers: config.defaultWorkersPerModel,
      batchSize: config.batchSize,
      maxBatchDelay: config.maxBatchDelay,
      responseTimeout: config.defaultResponseTimeout,
      jobQueueSize: config.jobQueueSize,
      queueTimeout: config.defaultQueueTimeoutMs,
      intraOpThreads: config.intraOpThreads || undefined,
    },
    threadsFor: (workers) => intraOpThreadsFor(workers, config.cpuCount, config.intraOpThreads),
    unregisterTimeoutMs: config.unregisterModelTimeout * 1000,
    workerCaps: { perModel: config.maxWorkersPerModel, total: config.maxWorkersTotal },
    startupTimeout: config.defaultStartupTimeout,
    perModel: (name, version) => perModelSettings(config, name, version),
    autoscale: opts.autoscale,
    restart: opts.restart,
    maxHeapMb: config.workerMaxHeapMb || undefined,
    onWorkerProblem: (model, version, message) => log.warn({ model, version }, message),
    onQueueFull: (model, version) => metrics.queueFull(model, version),
    onMetric: (name, version, m) => metrics.handlerMetric(name, version, m),
    onChange: () => {
      if (!starting) snapshots?.changed();
    },
  });
  metrics.watch(registry);
  const snapshots = opts.snapshotDir
    ? new SnapshotWriter(opts.snapshotDir, registry, (err) => log.error({ error: err.message }, 'cannot write the snapshot'))
    : undefined;
  let starting = true;
  let startupFailures: StartupFailure[] = [];
  // strict_readiness: /ping stays Unhealthy while a model named at start is missing (until it is registered).
  const unhealthyReason = (): string | undefined => {
    if (!config.strictReadiness) return undefined;
    const missing = startupFailures.filter((f) => !registry.has(f.model));
    if (missing.length === 0) return undefined;
    return missing.map((f) => `model "${f.model}" named at start failed to load: ${f.error}`).join('; ');
  };
  const gate = new DrainGate();
  const servers: http.Server[] = [];
  const grpcListeners: GrpcListener[] = [];
  try {
    const inference = await listen(
      createInferenceApp({
        registry,
        metrics,
        log,
        maxRequestSize: config.maxRequestSize,
        maxResponseSize: config.maxResponseSize,
        modelApi: config.enableModelApi,
        healthy: () => !starting && !gate.stopping && registry.healthy() && unhealthyReason() === undefined,
        unhealthyReason,
        ...security.inference,
      }),
      config.inferenceAddress,
      gate,
      security.tls,
      config.maxConnections,
      'inference_address',
    );
    servers.push(inference.server);
    const resolveUrl = urlResolver((name) => registry.resolveInStore(name), {
      allowed: config.allowedUrls,
      maxBytes: MAX_DOWNLOAD_BYTES,
    });
    const management = await listen(
      createManagementApp({ registry, metrics, log, modelApi: config.enableModelApi, resolveUrl, ...security.management }),
      config.managementAddress,
      gate,
      security.tls,
      config.maxConnections,
      'management_address',
    );
    servers.push(management.server);
    const metricsListener = await listen(security.corsFirst(createMetricsApp({ metrics, log })), config.metricsAddress, gate, security.tls, config.maxConnections, 'metrics_address');
    servers.push(metricsListener.server);
    const grpc = await startGrpc(
      {
        registry,
        metrics,
        log,
        gate,
        tokens: security.tokens,
        maxRequestSize: config.maxRequestSize,
        maxResponseSize: config.maxResponseSize,
        healthy: () => !starting && !gate.stopping && registry.healthy(),
        modelApi: config.enableModelApi,
        resolveUrl,
        tls: config.enableGrpcSsl ? security.tls : undefined,
      },
      { inference: config.grpcInferenceAddress, management: config.grpcManagementAddress },
    );
    grpcListeners.push(grpc.inference, grpc.management);

    if (opts.restore) {
      startupFailures = await restoreSnapshot(registry, opts.restore, log);
    } else {
      const all = config.loadModels === 'all';
      const list = all ? (config.modelStore ? await everyArchive(config.modelStore) : []) : [...(config.loadModels ?? [])];
      startupFailures = await loadModels(registry, list, log);
    }
    const repoStart = config.modelRepository
      ? await startRepository(registry, {
          repo: config.modelRepository,
          mode: config.modelControlMode,
          loadModel: config.loadModel,
          exitOnError: config.exitOnError,
          pollSecs: config.repositoryPollSecs,
        }, log)
      : undefined;
    const poller = repoStart?.poller;
    startupFailures.push(...(repoStart?.failures ?? []));
    starting = false;
    // A restore that lost models leaves the snapshot as it was (until a real change): a failed start must not
    // quietly drop them from the next one.
    if (!(opts.restore && startupFailures.length > 0)) snapshots?.changed();
    log.info(
      { inference: inference.url, management: management.url, metrics: metricsListener.url, grpcInference: grpc.inference.target, grpcManagement: grpc.management.target },
      'modelserver started',
    );

    let stopping: Promise<void> | undefined;
    return {
      inferenceUrl: inference.url,
      managementUrl: management.url,
      metricsUrl: metricsListener.url,
      grpcInferenceTarget: grpc.inference.target,
      grpcManagementTarget: grpc.management.target,
      registry,
      startupFailures,
      stop: () =>
        (stopping ??= (async () => {
          await poller?.stop();
          // No new connections; on open ones readiness goes false and new requests get 503 with Connection:
          // close while the ones in flight finish (bounded); then idle keep-alive sockets close, and what is
          // still open (an answer being written, a lingering close) gets a few seconds before it is cut.
          const closed = servers.map(stopListening);
          await gate.drain(opts.drainTimeoutMs ?? config.unregisterModelTimeout * 1000);
          await gate.closeIdle(performance.now() + LINGER_MS);
          for (const s of servers) s.closeAllConnections();
          await Promise.all([...closed, ...grpcListeners.map((g) => stopGrpc(g, GRPC_CLOSE_GRACE_MS))]);
          await snapshots?.flush();
          await registry.close();
          await workDir.destroy();
          await security.close();
          log.info('modelserver stopped');
        })()),
    };
  } catch (err) {
    for (const g of grpcListeners) g.server.forceShutdown();
    await Promise.all(servers.map((s) => close(s)));
    await registry.close();
    await workDir.destroy();
    await security.close();
    throw err;
  }
}
