/**
 * Loads the one frozen `ServerConfig`: defaults, then the config file, then the environment (only when
 * `enable_envvars_config=true`), then the command line, each value parsed and validated with a message that
 * names its source, the key, the value and what is allowed. Snapshots are merged in by a later room.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { ServeError } from '../errors.ts';
import {
  bool, Invalid, nonNegativeInt, oneOf, parseProperties, positiveInt, positiveNumber, substituteEnv, text,
  type Parser,
} from './properties.ts';
import {
  address, checkKey, grpcHost, isLoopback, KEYS, loadModels, modelsJson, port, urlPatterns,
  type Address, type GrpcAddress, type LoadModel, type ModelsConfig, type UsedKey,
} from './keys.ts';

export type { Address, GrpcAddress, LoadModel, ModelsConfig, ModelVersionConfig } from './keys.ts';
export type MetricsMode = 'prometheus' | 'log' | 'legacy';

export interface ServerConfig {
  readonly configFile?: string; // absolute path of the file read, if any
  readonly inferenceAddress: Address;
  readonly managementAddress: Address;
  readonly metricsAddress: Address;
  readonly modelStore?: string; // absolute; undefined when not configured anywhere
  readonly workflowStore?: string; // absolute; defaults to the model store, as in TorchServe
  /** undefined: not set; 'all': every archive in the model store; else the listed archives (may be empty). */
  readonly loadModels?: 'all' | readonly LoadModel[];
  readonly cpuCount: number; // the cores this config was sized for
  /** Resolved: `default_workers_per_model`, or when 0, `number_of_gpu` if > 0, else `autoWorkers(cpuCount)`. */
  readonly defaultWorkersPerModel: number;
  /** As configured; 0 = auto. Per model use `intraOpThreadsFor(workers, cpuCount, intraOpThreads)`. */
  readonly intraOpThreads: number;
  /** Ours: each worker thread's V8 heap limit in MB (0 = Node's default); past it the worker dies, answered 507. */
  readonly workerMaxHeapMb: number;
  readonly jobQueueSize: number;
  /** Ours: most workers one model version may have (its max_worker), and all versions together; resolved from 0 = auto. */
  readonly maxWorkersPerModel: number;
  readonly maxWorkersTotal: number;
  /** Ours: ms a request may wait in a model's queue before a 503 (0: no limit); per model `queueTimeout`. */
  readonly defaultQueueTimeoutMs: number;
  /** Ours: open connections each listener accepts at most; past it new ones are closed at once (0: no limit). */
  readonly maxConnections: number;
  readonly maxRequestSize: number; // bytes
  readonly maxResponseSize: number; // bytes
  readonly defaultResponseTimeout: number; // seconds, as the next two
  readonly defaultStartupTimeout: number;
  readonly unregisterModelTimeout: number;
  /** Global defaults for models that set neither in the archive nor via the API. */
  readonly batchSize: number;
  readonly maxBatchDelay: number; // milliseconds
  /**
   * URL patterns allowed for registering archives, each anchored to match a whole URL. Archive names inside the
   * model store are always allowed. When `allowed_urls` is not set this list is empty and
   * `allowedUrlsModelStoreOnly` is true: only archives in the model store may be registered (TorchServe's
   * default, `file://.*|http(s)?://.*`, is the one ShellTorch abused).
   */
  readonly allowedUrls: readonly RegExp[];
  readonly allowedUrlsModelStoreOnly: boolean;
  /** Default: true while the management address is loopback, else false (TorchServe: false). */
  readonly enableModelApi: boolean;
  readonly enableEnvvarsConfig: boolean;
  readonly enableMetricsApi: boolean;
  readonly metricsMode: MetricsMode; // default prometheus (TorchServe: log)
  readonly metricTimeInterval: number; // seconds
  readonly disableTokenAuthorization?: boolean; // undefined when not set: the server picks its default
  readonly tokenExpirationMin: number;
  /** Where the token key file is written (ours; TorchServe: always `./key_file.json`). Absolute. */
  readonly keyFile: string;
  /** Lets the management API run on a non-loopback address without tokens (ours; default false). */
  readonly allowUnauthenticatedManagement: boolean;
  readonly decodeInputRequest: boolean;
  readonly limitMaxImagePixels: boolean;
  readonly models: ModelsConfig; // TorchServe's per-model `models` JSON; {} when not set
  readonly numberOfGpu: number;
  readonly corsAllowedOrigin?: string;
  readonly corsAllowedMethods?: string;
  readonly corsAllowedHeaders?: string;
  readonly privateKeyFile?: string; // absolute; both or neither
  readonly certificateFile?: string;
  /** gRPC listeners (TorchServe's keys): Triton's and TorchServe's inference services, and TorchServe's management. */
  readonly grpcInferenceAddress: GrpcAddress;
  readonly grpcManagementAddress: GrpcAddress;
  /** gRPC over TLS with private_key_file and certificate_file (TorchServe's enable_grpc_ssl). */
  readonly enableGrpcSsl: boolean;
  /** Triton's --model-repository (absolute): repository model folders, looked up before the model store. */
  readonly modelRepository?: string;
  /** Triton's --model-control-mode: none (load all at start), poll (also reload changes), explicit (only --load-model and the API). */
  readonly modelControlMode: 'none' | 'poll' | 'explicit';
  /** Triton's --strict-model-config (default false: configs are completed from the model). */
  readonly strictModelConfig: boolean;
  /** Triton's --repository-poll-secs (default 15) in poll mode. */
  readonly repositoryPollSecs: number;
  /** Triton's --load-model names (explicit mode; `*` loads everything). */
  readonly loadModel: readonly string[];
  /**
   * Ours (Triton's --strict-readiness): while a model named at start failed to load, /ping is Unhealthy and
   * `--start` stops the server it started. false: TorchServe's leniency (serve what loaded). Default true.
   */
  readonly strictReadiness: boolean;
  /** Where each key that was set came from (`command line`, `environment variable MS_X`, the file's name). */
  readonly sources: Readonly<Record<string, string>>;
  /** Triton's --exit-on-error (default true): a repository model that fails at start stops the start. */
  readonly exitOnError: boolean;
  /** Triton's `--backend-config=onnxruntime,default-max-batch-size=N` (default 4): auto-complete's max_batch_size. */
  readonly defaultMaxBatchSize: number;
  /** The effective text of every known key that was set (file, env, CLI merged; after `$$ENV$$`). */
  readonly properties: Readonly<Record<string, string>>;
}

export interface LoadConfigOptions {
  configFile?: string;
  /** Values from the command line, by property name (`model_store`, `load_models`, ...). */
  cli?: Partial<Record<string, string>>;
  env?: NodeJS.ProcessEnv;
  cpuCount?: number;
  warn?: (msg: string) => void;
  /** Notes that do not need attention (TorchServe keys this server ignores). */
  info?: (msg: string) => void;
  /** Base for relative paths from the environment or CLI; default process.cwd(). */
  cwd?: string;
}

/** Workers per model when not configured: one per core, at most 4, at least 1. */
export function autoWorkers(cpuCount: number): number {
  return Math.max(1, Math.min(Math.floor(cpuCount), 4));
}

/**
 * Default worker caps: 4 workers per core for one model (at least 8) and 8 per core in all (at least 16). A worker
 * is a thread with its own session (tens of MB); past a few per core they only add memory and contention, and
 * `min_worker=64` on 2 cores once added 648 MB and 143 threads.
 */
export function workerCaps(cpuCount: number): { perModel: number; total: number } {
  const cores = Math.max(1, Math.floor(cpuCount));
  return { perModel: Math.max(8, 4 * cores), total: Math.max(32, 16 * cores) };
}

/** Intra-op threads per worker: `configured` if > 0, else an even share of the cores (at least 1). */
export function intraOpThreadsFor(workers: number, cpuCount: number, configured: number): number {
  if (configured > 0) return configured;
  return Math.max(1, Math.floor(cpuCount / Math.max(1, workers)));
}

/** A value with where it came from and the folder its relative paths are relative to. */
type Candidate = { value: string; source: string; base: string };

export function loadConfig(opts: LoadConfigOptions = {}): ServerConfig {
  const env = opts.env ?? process.env;
  const warn = opts.warn ?? (() => {});
  const info = opts.info ?? (() => {});
  const cwd = opts.cwd ?? process.cwd();
  const cpuCount = Math.max(1, Math.floor(opts.cpuCount ?? availableParallelism()));

  const file: Record<string, Candidate> = {};
  let configFile: string | undefined;
  if (opts.configFile !== undefined) {
    configFile = path.resolve(cwd, opts.configFile);
    const label = opts.configFile;
    let contents: string;
    try {
      contents = readFileSync(configFile, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? `${configFile} does not exist (check --ts-config or TS_CONFIG_FILE)`
        : code === 'EISDIR' ? `${configFile} is a folder, not a config.properties file`
        : code === 'EACCES' ? `${configFile} is not readable by this user` : (e as Error).message;
      throw new ServeError('BadRequest', `cannot read config file ${label}: ${why}`, { cause: e });
    }
    for (const [key, raw] of Object.entries(parseProperties(contents))) {
      if (!checkKey(key, `in ${label}`, warn, info)) continue;
      const value = substituteEnv(raw, env, { key, source: label });
      file[key] = { value, source: label, base: path.dirname(configFile) };
    }
  }
  const cli: Record<string, Candidate> = {};
  for (const [key, value] of Object.entries(opts.cli ?? {})) {
    if (value !== undefined && checkKey(key, 'on the command line', warn, info)) {
      cli[key] = { value, source: 'command line', base: cwd };
    }
  }
  const fromEnv = (key: string): Candidate | undefined => {
    for (const name of [`MS_${key.toUpperCase()}`, `TS_${key.toUpperCase()}`]) {
      const value = env[name];
      if (value !== undefined) return { value, source: `environment variable ${name}`, base: cwd };
    }
    return undefined;
  };
  const parse = <T>(key: string, c: Candidate, parser: Parser<T>): T => {
    try {
      return parser(c.value.trim());
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      throw new ServeError('BadRequest', `${c.source}: ${key} = ${JSON.stringify(c.value)} is not allowed: ${e.message}`);
    }
  };

  // enable_envvars_config decides whether the environment is consulted at all, so it is resolved first.
  const envSwitch = cli.enable_envvars_config ?? fromEnv('enable_envvars_config') ?? file.enable_envvars_config;
  const enableEnvvarsConfig = envSwitch ? parse('enable_envvars_config', envSwitch, bool) : false;
  const candidate = (key: string): Candidate | undefined =>
    cli[key] ?? (enableEnvvarsConfig ? fromEnv(key) : undefined) ?? file[key];

  // allowed_urls is taken from the environment only with use_env_allowed_urls=true, as in TorchServe.
  const useEnvUrlsC = candidate('use_env_allowed_urls');
  const useEnvAllowedUrls = useEnvUrlsC ? parse('use_env_allowed_urls', useEnvUrlsC, bool) : false;
  const envUrls = enableEnvvarsConfig ? fromEnv('allowed_urls') : undefined;
  if (envUrls && !useEnvAllowedUrls && !cli.allowed_urls) {
    warn(`${envUrls.source} is ignored: set use_env_allowed_urls=true to take allowed_urls from the environment`);
  }
  const effective = (key: string): Candidate | undefined =>
    key === 'allowed_urls' && !useEnvAllowedUrls ? (cli[key] ?? file[key]) : candidate(key);

  const properties: Record<string, string> = {};
  const sources: Record<string, string> = {};
  for (const key of Object.keys(KEYS)) {
    const c = effective(key);
    if (c) {
      properties[key] = c.value;
      sources[key] = c.source;
    }
  }
  if (properties.workflow_store !== undefined) {
    info(`${sources.workflow_store}: workflow_store is read, but modelserver serves no workflows (no /workflows API)`);
  }

  function get<T>(key: UsedKey, parser: Parser<T>): T | undefined;
  function get<T>(key: UsedKey, parser: Parser<T>, fallback: T): T;
  function get<T>(key: UsedKey, parser: Parser<T>, fallback?: T): T | undefined {
    const c = effective(key);
    return c ? parse(key, c, parser) : fallback;
  }
  // Relative paths: against the config file's folder when written there, else against cwd.
  const pathOf = (key: UsedKey): string | undefined => {
    const c = effective(key);
    return c ? path.resolve(c.base, parse(key, c, text)) : undefined;
  };

  const managementAddress = get('management_address', address, addr(8081));
  const numberOfGpu = get('number_of_gpu', nonNegativeInt, 0);
  const workers = get('default_workers_per_model', nonNegativeInt, 0);
  const modelStore = pathOf('model_store');
  const allowedUrls = get('allowed_urls', urlPatterns);
  const config: ServerConfig = {
    configFile,
    inferenceAddress: get('inference_address', address, addr(8080)),
    managementAddress,
    metricsAddress: get('metrics_address', address, addr(8082)),
    modelStore,
    workflowStore: pathOf('workflow_store') ?? modelStore,
    loadModels: get('load_models', loadModels),
    cpuCount,
    defaultWorkersPerModel: workers > 0 ? workers : numberOfGpu > 0 ? numberOfGpu : autoWorkers(cpuCount),
    intraOpThreads: get('intra_op_threads', nonNegativeInt, 0),
    workerMaxHeapMb: get('worker_max_heap_mb', nonNegativeInt, 0),
    jobQueueSize: get('job_queue_size', positiveInt, 100),
    maxWorkersPerModel: get('max_workers_per_model', nonNegativeInt, 0) || workerCaps(cpuCount).perModel,
    maxWorkersTotal: get('max_workers_total', nonNegativeInt, 0) || workerCaps(cpuCount).total,
    defaultQueueTimeoutMs: get('default_queue_timeout_ms', nonNegativeInt, 0),
    maxConnections: get('max_connections', nonNegativeInt, 1024),
    maxRequestSize: get('max_request_size', positiveInt, 6553500),
    maxResponseSize: get('max_response_size', positiveInt, 6553500),
    defaultResponseTimeout: get('default_response_timeout', positiveInt, 120),
    defaultStartupTimeout: get('default_startup_timeout', positiveInt, 120),
    unregisterModelTimeout: get('unregister_model_timeout', positiveInt, 120),
    batchSize: get('batch_size', positiveInt, 1),
    maxBatchDelay: get('max_batch_delay', nonNegativeInt, 100),
    allowedUrls: allowedUrls ?? [],
    allowedUrlsModelStoreOnly: allowedUrls === undefined,
    enableModelApi: get('enable_model_api', bool, isLoopback(managementAddress.host)),
    enableEnvvarsConfig,
    enableMetricsApi: get('enable_metrics_api', bool, true),
    metricsMode: get('metrics_mode', oneOf<MetricsMode>('prometheus', 'log', 'legacy'), 'prometheus'),
    metricTimeInterval: get('metric_time_interval', positiveInt, 60),
    disableTokenAuthorization: get('disable_token_authorization', bool),
    tokenExpirationMin: get('token_expiration_min', positiveNumber, 60),
    keyFile: pathOf('key_file') ?? path.resolve(cwd, 'key_file.json'),
    allowUnauthenticatedManagement: get('allow_unauthenticated_management', bool, false),
    decodeInputRequest: get('decode_input_request', bool, true),
    limitMaxImagePixels: get('limit_max_image_pixels', bool, true),
    models: get('models', modelsJson, {}),
    numberOfGpu,
    corsAllowedOrigin: get('cors_allowed_origin', text),
    corsAllowedMethods: get('cors_allowed_methods', text),
    corsAllowedHeaders: get('cors_allowed_headers', text),
    privateKeyFile: pathOf('private_key_file'),
    certificateFile: pathOf('certificate_file'),
    grpcInferenceAddress: { host: get('grpc_inference_address', grpcHost, '127.0.0.1'), port: get('grpc_inference_port', port, 7070) },
    grpcManagementAddress: { host: get('grpc_management_address', grpcHost, '127.0.0.1'), port: get('grpc_management_port', port, 7071) },
    enableGrpcSsl: get('enable_grpc_ssl', bool, false),
    modelRepository: pathOf('model_repository'),
    modelControlMode: get('model_control_mode', oneOf<'none' | 'poll' | 'explicit'>('none', 'poll', 'explicit'), 'none'),
    strictModelConfig: get('strict_model_config', bool, false),
    repositoryPollSecs: get('repository_poll_secs', nonNegativeInt, 15),
    loadModel: (get('load_model', text) ?? '').split(',').map((x) => x.trim()).filter((x) => x !== ''),
    strictReadiness: get('strict_readiness', bool, true),
    sources,
    exitOnError: get('exit_on_error', bool, true),
    defaultMaxBatchSize: get('default_max_batch_size', positiveInt, 4),
    properties,
  };
  checkTls(config, (key) => effective(key)?.source);
  return deepFreeze(config);
}

const addr = (port: number): Address => ({ scheme: 'http', host: '127.0.0.1', port });

function checkTls(c: ServerConfig, source: (key: string) => string | undefined): void {
  if ((c.privateKeyFile === undefined) !== (c.certificateFile === undefined)) {
    const [set, unset] = c.privateKeyFile ? ['private_key_file', 'certificate_file'] : ['certificate_file', 'private_key_file'];
    throw new ServeError('BadRequest', `${source(set)}: ${set} is set but ${unset} is not: set both or neither`);
  }
  if (c.enableGrpcSsl && c.privateKeyFile === undefined) {
    throw new ServeError('BadRequest', `${source('enable_grpc_ssl')}: enable_grpc_ssl=true needs private_key_file and certificate_file`);
  }
  const https = (['inference', 'management', 'metrics'] as const).find((n) => c[`${n}Address`].scheme === 'https');
  if (https && c.privateKeyFile === undefined) {
    const key = `${https}_address`;
    throw new ServeError('BadRequest', `${source(key)}: ${key} uses https but private_key_file and certificate_file are not set`);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
