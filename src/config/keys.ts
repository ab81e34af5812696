/**
 * The key table of `config.properties` and the parsers of its structured values (addresses, `load_models`,
 * `allowed_urls`, the `models` JSON). Parsers follow the contract in `properties.ts`.
 */
import { Invalid, type Parser } from './properties.ts';

/**
 * How a key is treated:
 * - `used`: parsed, validated and exposed on `ServerConfig`.
 * - `silent`: accepted without a message and kept only in `ServerConfig.properties`. These are TorchServe keys
 *   that either belong to a later room (`snapshot_store`, `model_snapshot`: the snapshot code reads them from
 *   `properties`) or tune the JVM/Netty/Python side, which this server does not have, so that a message would
 *   be noise (`vmargs`, `number_of_netty_threads`, `netty_client_threads`, `async_logging`,
 *   `install_py_dep_per_model`, ...).
 * - `ignored`: TorchServe features a user may rely on that this server does not provide (Java key
 *   stores, service envelopes, ...). Accepted, with an info message that the key has no effect.
 * Any other key is unknown: a warning, never a failure.
 */
export type KeyUse = 'used' | 'silent' | 'ignored';

const USED = [
  'inference_address', 'management_address', 'metrics_address', 'model_store', 'workflow_store', 'load_models',
  'default_workers_per_model', 'intra_op_threads', 'job_queue_size', 'max_request_size', 'max_response_size',
  'default_response_timeout', 'default_startup_timeout', 'unregister_model_timeout', 'batch_size',
  'max_batch_delay', 'allowed_urls', 'use_env_allowed_urls', 'enable_model_api', 'enable_envvars_config',
  'enable_metrics_api', 'metrics_mode', 'metric_time_interval', 'disable_token_authorization',
  'token_expiration_min', 'decode_input_request', 'limit_max_image_pixels', 'models', 'number_of_gpu',
  'cors_allowed_origin', 'cors_allowed_methods', 'cors_allowed_headers', 'private_key_file', 'certificate_file',
  'key_file', 'allow_unauthenticated_management', 'worker_max_heap_mb',
  'max_workers_per_model', 'max_workers_total', 'default_queue_timeout_ms', 'max_connections',
  'grpc_inference_address', 'grpc_management_address', 'grpc_inference_port', 'grpc_management_port',
  'enable_grpc_ssl',
  // Triton's repository flags (issue 13), under property names so config.properties and MS_ variables take them too.
  'model_repository', 'model_control_mode', 'strict_model_config', 'repository_poll_secs', 'load_model', 'exit_on_error', 'default_max_batch_size',
  'strict_readiness',
] as const;

const SILENT = [
  'snapshot_store', 'model_snapshot', 'install_py_dep_per_model', 'number_of_netty_threads',
  'netty_client_threads', 'async_logging', 'vmargs', 'prefer_direct_buffer', 'use_native_io', 'io_ratio',
  'model_server_home',
];

const IGNORED = [
  'ts_open_inference_protocol', 'service_envelope', 'keystore', 'keystore_pass',
  'keystore_type', 'blacklist_env_vars', 'plugins_path', 'cpp_log_config', 'metrics_config',
  'disable_system_metrics', 'system_metrics_cmd', 'default_service_handler', 'initial_worker_port',
  'initial_distribution_port', 'debug',
];

export type UsedKey = (typeof USED)[number];

export const KEYS: Readonly<Record<string, KeyUse>> = Object.freeze(
  Object.assign(
    Object.create(null) as Record<string, KeyUse>,
    Object.fromEntries([
      ...USED.map((k) => [k, 'used'] as const),
      ...SILENT.map((k) => [k, 'silent'] as const),
      ...IGNORED.map((k) => [k, 'ignored'] as const),
    ]),
  ),
);

/** True when the key should be read; warns about unknown keys and notes ignored ones. */
export function checkKey(key: string, where: string, warn: (m: string) => void, info: (m: string) => void): boolean {
  const use = KEYS[key];
  if (use === undefined) warn(`unknown key '${key}' ${where} (ignored)`);
  else if (use === 'ignored') info(`key '${key}' ${where} is a TorchServe setting modelserver does not use (ignored)`);
  return use !== undefined;
}

export interface Address {
  readonly scheme: 'http' | 'https';
  /** Host name or IP address; IPv6 without brackets (`::1`). */
  readonly host: string;
  /** 0..65535; 0 lets the OS pick a free port. */
  readonly port: number;
}

const ADDRESS = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})\/?$/i;

/** `http://host:port` or `https://host:port`; IPv6 hosts in brackets (`http://[::1]:8080`). */
export const address: Parser<Address> = (s) => {
  const m = ADDRESS.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Invalid('expected http://host:port or https://host:port with a port from 0 to 65535');
  }
  const host = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2];
  return { scheme: m[1].toLowerCase() as 'http' | 'https', host, port };
};

/** Loopback hosts: `localhost`, 127.0.0.0/8, `::1` (and its IPv4-mapped forms). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}

export interface LoadModel {
  /** The name given as `name=...`; without it the registry takes the name from the archive. */
  readonly name?: string;
  /** Archive file name in the model store, a path, or a URL (checked against `allowed_urls` by the registry). */
  readonly url: string;
}

/** TorchServe's model name rule (model-archiver `--model-name`). */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_\-.]*$/;

/**
 * `all` (any case), or a comma list of `[name=]url`. `name=` is only taken as a name when what precedes the
 * first `=` is a valid model name, so a URL with a query (`https://h/x.mar?a=b`) stays whole. Empty entries
 * are skipped; an empty value means no models.
 */
export const loadModels: Parser<'all' | readonly LoadModel[]> = (s) => {
  const entries = s.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 1 && entries[0].toLowerCase() === 'all') return 'all';
  return entries.map((entry): LoadModel => {
    if (entry.toLowerCase() === 'all') throw new Invalid('expected "all" alone, or a comma list of [name=]file');
    const eq = entry.indexOf('=');
    const name = eq > 0 ? entry.slice(0, eq).trim() : '';
    if (eq > 0 && MODEL_NAME.test(name)) {
      const url = entry.slice(eq + 1).trim();
      if (url === '') throw new Invalid(`expected "all" or a comma list of [name=]file; "${entry}" has no file`);
      return { name, url };
    }
    if (eq === 0) throw new Invalid(`expected "all" or a comma list of [name=]file; "${entry}" has an empty name`);
    return { url: entry };
  });
};

/**
 * A comma list of regular expressions. Each is compiled anchored (`^(?:...)$`) so that it must match the whole
 * URL, as Java's `Pattern.matches` does in TorchServe; an unanchored match would let `file://.*` accept
 * `http://evil/?file://x`.
 */
export const urlPatterns: Parser<readonly RegExp[]> = (s) => {
  const out: RegExp[] = [];
  for (const p of s.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    try {
      out.push(new RegExp(`^(?:${p})$`));
    } catch {
      throw new Invalid(`expected a comma list of regular expressions; "${p}" is not a valid regular expression`);
    }
  }
  if (out.length === 0) throw new Invalid('expected a comma list of regular expressions');
  return out;
};

/** One entry of TorchServe's per-model `models` JSON; every field optional. */
export interface ModelVersionConfig {
  readonly defaultVersion?: boolean;
  readonly marName?: string;
  readonly minWorkers?: number;
  readonly maxWorkers?: number;
  readonly batchSize?: number;
  readonly maxBatchDelay?: number;
  readonly responseTimeout?: number;
  readonly startupTimeout?: number;
  /** ms a request may wait in the queue (ours, as the YAML's queueTimeout). */
  readonly queueTimeout?: number;
  /** Written by TorchServe snapshots; accepted and kept. */
  readonly runtimeType?: string;
}

export type ModelsConfig = Readonly<Record<string, Readonly<Record<string, ModelVersionConfig>>>>;

type FieldKind = 'boolean' | 'string' | 'a non-negative integer' | 'a positive integer';
const FIELDS: Record<keyof ModelVersionConfig, FieldKind> = {
  defaultVersion: 'boolean', marName: 'string', runtimeType: 'string',
  minWorkers: 'a non-negative integer', maxWorkers: 'a non-negative integer', maxBatchDelay: 'a non-negative integer',
  batchSize: 'a positive integer', responseTimeout: 'a positive integer', startupTimeout: 'a positive integer',
  queueTimeout: 'a non-negative integer',
};

function fieldOk(kind: FieldKind, v: unknown): boolean {
  if (kind === 'boolean') return typeof v === 'boolean';
  if (kind === 'string') return typeof v === 'string' && v !== '';
  return Number.isSafeInteger(v) && (v as number) >= (kind === 'a positive integer' ? 1 : 0);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const MODELS_SHAPE = 'expected JSON {"<model>":{"<version>":{"defaultVersion":true,"marName":"x.mar","minWorkers":1,...}}}';

/**
 * TorchServe's `models` property. Fields are checked by type; unknown fields are refused (a misspelt
 * `batchsize` would otherwise be silently dropped); at most one version per model may be `defaultVersion`;
 * `minWorkers` may not exceed `maxWorkers`.
 */
export const modelsJson: Parser<ModelsConfig> = (s) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch (e) {
    throw new Invalid(`${MODELS_SHAPE}; it is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(parsed)) throw new Invalid(`${MODELS_SHAPE}; the top level is not an object`);
  // Built with Object.fromEntries so that a key such as "__proto__" stays an ordinary own property.
  const out: [string, Record<string, ModelVersionConfig>][] = [];
  for (const [model, versions] of Object.entries(parsed)) {
    const at = `"${model}"`;
    if (!MODEL_NAME.test(model)) throw new Invalid(`${MODELS_SHAPE}; ${at} is not a valid model name`);
    if (!isObject(versions)) throw new Invalid(`${MODELS_SHAPE}; ${at} is not an object of versions`);
    const vs: [string, ModelVersionConfig][] = [];
    let defaults = 0;
    for (const [version, settings] of Object.entries(versions)) {
      const where = `${at}."${version}"`;
      if (version.trim() === '') throw new Invalid(`${MODELS_SHAPE}; ${at} has an empty version`);
      if (!isObject(settings)) throw new Invalid(`${MODELS_SHAPE}; ${where} is not an object`);
      for (const [field, value] of Object.entries(settings)) {
        const kind = Object.hasOwn(FIELDS, field) ? FIELDS[field as keyof ModelVersionConfig] : undefined;
        if (kind === undefined) {
          throw new Invalid(`${where} has unknown field "${field}"; allowed: ${Object.keys(FIELDS).join(', ')}`);
        }
        if (!fieldOk(kind, value)) {
          throw new Invalid(`${where}.${field} must be ${kind === 'string' ? 'a non-empty string' : kind} (got ${JSON.stringify(value)})`);
        }
      }
      const v = settings as ModelVersionConfig;
      if (v.minWorkers !== undefined && v.maxWorkers !== undefined && v.minWorkers > v.maxWorkers) {
        throw new Invalid(`${where}: minWorkers (${v.minWorkers}) must not exceed maxWorkers (${v.maxWorkers})`);
      }
      if (v.defaultVersion === true && ++defaults > 1) {
        throw new Invalid(`${at} has more than one version with "defaultVersion": true`);
      }
      vs.push([version, Object.fromEntries(Object.entries(v)) as ModelVersionConfig]);
    }
    out.push([model, Object.fromEntries(vs)]);
  }
  return Object.fromEntries(out);
};

/** A gRPC listener: TorchServe's `grpc_*_address` (a host, default 127.0.0.1) and `grpc_*_port`. */
export interface GrpcAddress {
  readonly host: string;
  readonly port: number;
}

/** A bare host name or IP address (IPv6 with or without brackets), as `grpc_inference_address` takes it. */
export const grpcHost: Parser<string> = (s) => {
  const m = /^\[?([0-9A-Fa-f:.]+|[A-Za-z0-9._-]+)\]?$/.exec(s.trim());
  if (!m) throw new Invalid('expected a host name or IP address, such as 127.0.0.1 or 0.0.0.0');
  return m[1];
};

/** A port from 0 to 65535 (0 lets the OS pick a free one). */
export const port: Parser<number> = (s) => {
  const n = Number(s.trim());
  if (!/^[0-9]{1,5}$/.test(s.trim()) || n > 65535) throw new Invalid('expected a port from 0 to 65535');
  return n;
};
