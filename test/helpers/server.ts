/**
 * Test servers: a temporary model store with real archives, and a server on free ports (port 0) that tests
 * drive over HTTP. Everything is removed afterwards.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packArchive } from '../../src/archive/pack.ts';
import { loadConfig, type ServerConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/log.ts';
import { startServer, type RunningServer, type StartOptions } from '../../src/server.ts';

// Handler logs from worker threads follow MS_LOG_LEVEL; keep test output to what matters.
process.env.MS_LOG_LEVEL ??= process.env.MS_TEST_LOG ?? 'warn';

export const FIXTURE_HANDLERS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'handlers');

export interface ArchiveSpec {
  name: string;
  version?: string;
  /** Written as model.onnx and used as the serialized file. */
  model?: Uint8Array;
  /** A built-in name, or a fixture handler file name (e.g. `echo.js`, `named.js:Shouter`). */
  handler: string;
  /** Extra files by name. */
  extra?: Record<string, string | Uint8Array>;
  /** model-config YAML text. */
  config?: string;
  /** The archive's file name in the store (default `<name>.mar`), e.g. for two versions of one model. */
  file?: string;
}

export class TestStore {
  private constructor(readonly dir: string, private readonly scratch: string) {}

  static async create(): Promise<TestStore> {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-test-'));
    await fs.mkdir(path.join(root, 'store'));
    await fs.mkdir(path.join(root, 'scratch'));
    return new TestStore(path.join(root, 'store'), path.join(root, 'scratch'));
  }

  /** Packs an archive into the store; returns its file name. */
  async add(spec: ArchiveSpec): Promise<string> {
    const src = await fs.mkdtemp(path.join(this.scratch, `${spec.name}-`));
    const extraFiles: string[] = [];
    for (const [file, content] of Object.entries(spec.extra ?? {})) {
      await fs.writeFile(path.join(src, file), content);
      extraFiles.push(path.join(src, file));
    }
    let serializedFile: string | undefined;
    if (spec.model) {
      serializedFile = path.join(src, 'model.onnx');
      await fs.writeFile(serializedFile, spec.model);
    }
    let configFile: string | undefined;
    if (spec.config !== undefined) {
      configFile = path.join(src, 'model-config.yaml');
      await fs.writeFile(configFile, spec.config);
    }
    const handler = /\.m?js(:|$)/.test(spec.handler) ? path.join(FIXTURE_HANDLERS, spec.handler) : spec.handler;
    const out = await packArchive({
      modelName: spec.name,
      version: spec.version ?? '1.0',
      serializedFile,
      handler,
      extraFiles,
      configFile,
      exportPath: this.dir,
      force: true,
    });
    if (spec.file) {
      await fs.rename(out, path.join(this.dir, spec.file));
      return spec.file;
    }
    return path.basename(out);
  }

  async remove(): Promise<void> {
    await fs.rm(path.dirname(this.dir), { recursive: true, force: true });
  }
}

/** The config of a test server: free loopback ports (port 0), the store, one worker per model by default. */
export function testConfig(store: TestStore, models: string[], props: Record<string, string> = {}): ServerConfig {
  return loadConfig({
    cli: {
      inference_address: 'http://127.0.0.1:0',
      management_address: 'http://127.0.0.1:0',
      metrics_address: 'http://127.0.0.1:0',
      grpc_inference_port: '0',
      grpc_management_port: '0',
      model_store: store.dir,
      load_models: models.join(','),
      default_workers_per_model: '1',
      ...props,
    },
    env: {},
    warn: () => {},
  });
}

/** Starts a server on free loopback ports with the store's archives named in `models`. */
export async function startTestServer(
  store: TestStore,
  models: string[],
  props: Record<string, string> = {},
  options: Omit<StartOptions, 'log'> = {},
): Promise<RunningServer> {
  const log = createLogger(process.env.MS_TEST_LOG ?? 'silent');
  return startServer(testConfig(store, models, props), { log, ...options });
}

/** The management API's describe object for a model's default version. */
export async function describeModel(server: RunningServer, model: string): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return ((await (await fetch(`${server.managementUrl}/models/${model}`)).json()) as Array<Record<string, unknown>>)[0];
}
