/** Models by name and version, with a default version each. Speaks neither HTTP nor ONNX. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { unpackArchive } from '../archive/unpack.ts';
import { ServeError } from '../errors.ts';
import type { CustomMetric } from '../pool/messages.ts';
import type { RestartPolicy } from '../pool/model-pool.ts';
import type { AutoscaleOptions } from './autoscaler.ts';
import { readModelConfig, settingsFromModelConfig } from './model-config.ts';
import { ModelVersion, type ModelSettings } from './model-version.ts';
import type { WorkDir } from './workdir.ts';

export interface RegistryOptions {
  modelStore?: string;
  workDir: WorkDir;
  /** Settings every model starts from (config.properties). */
  defaults: Omit<ModelSettings, 'intraOpThreads' | 'device'> & { intraOpThreads?: number; device?: string };
  /** Per-model settings from config.properties' `models` JSON: above the defaults, below the archive's YAML. */
  perModel?: (name: string, version: string) => Partial<ModelSettings> | undefined;
  /** Intra-op threads per session for a model with this many workers (when not set per model). */
  threadsFor: (workers: number) => number;
  unregisterTimeoutMs: number;
  autoscale?: AutoscaleOptions;
  restart?: RestartPolicy;
  /** Each worker's heap limit in MB (worker_max_heap_mb). */
  maxHeapMb?: number;
  onMetric?: (name: string, version: string, m: CustomMetric) => void;
  onWorkerProblem?: (name: string, version: string, message: string) => void;
  onQueueFull?: (name: string, version: string) => void;
  /** Seconds a synchronous registration waits for its workers (default_startup_timeout); unset: no limit. */
  startupTimeout?: number;
  /** Called after every change worth a snapshot (models, versions, default, workers, batch settings). */
  onChange?: () => void;
}

export interface RegisterRequest {
  /** An archive (or no-archive folder) name inside the model store. */
  url: string;
  modelName?: string;
  handler?: string;
  /** API parameters: they override the archive's YAML. */
  overrides?: Partial<ModelSettings>;
  /** TorchServe's initial_workers: min = max = this. */
  initialWorkers?: number;
  loadedAtStartup?: boolean;
  /** Wait for the workers (default true); false returns while the model is LOADING. */
  synchronous?: boolean;
  /** Make this version the default (otherwise the first version registered stays the default). */
  makeDefault?: boolean;
  /** TorchServe's startup_timeout (seconds): workers not ready by then fail a synchronous registration (500). */
  startupTimeout?: number;
}

interface Entry {
  versions: Map<string, ModelVersion>;
  defaultVersion: string;
}

export class Registry {
  private readonly models = new Map<string, Entry>();

  constructor(private readonly opts: RegistryOptions) {}

  get modelStore(): string | undefined {
    return this.opts.modelStore;
  }

  /** Resolves a model-store name, refusing anything outside the store. */
  resolveInStore(url: string): string {
    const store = this.opts.modelStore;
    if (!store) throw new ServeError('BadRequest', `cannot load "${url}": no model store is configured (--model-store)`);
    const full = path.resolve(store, url);
    const rel = path.relative(store, full);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new ServeError('BadRequest', `"${url}" is not a file in the model store`);
    }
    return full;
  }

  async register(req: RegisterRequest): Promise<ModelVersion> {
    const source = this.resolveInStore(req.url);
    try {
      await fs.access(source);
    } catch {
      throw new ServeError('ModelNotFound', `model archive "${req.url}" not found in the model store`);
    }
    const dir = await this.opts.workDir.folderFor(path.basename(req.url), 'new');
    let mv: ModelVersion;
    try {
      const { manifest } = await unpackArchive(source, dir);
      const name = req.modelName ?? manifest.model.modelName;
      const version = manifest.model.modelVersion;
      const modelConfig = await readModelConfig(dir, manifest, req.url);
      const settings = this.settingsFor(name, version, modelConfig, req);
      if (this.models.get(name)?.versions.has(version)) {
        throw new ServeError('Conflict', `Model version ${version} for model ${name} already exists`);
      }
      mv = new ModelVersion({
        name,
        version,
        url: req.url,
        dir,
        manifest,
        handler: req.handler ?? manifest.model.handler,
        modelConfig,
        settings,
        loadedAtStartup: req.loadedAtStartup ?? false,
        autoscale: this.opts.autoscale,
        restart: this.opts.restart,
        maxHeapMb: this.opts.maxHeapMb,
        onMetric: this.opts.onMetric && ((m) => this.opts.onMetric!(name, version, m)),
        onWorkerProblem: this.opts.onWorkerProblem && ((msg) => this.opts.onWorkerProblem!(name, version, msg)),
        onQueueFull: this.opts.onQueueFull && (() => this.opts.onQueueFull!(name, version)),
      });
      this.add(mv, req.makeDefault === true);
    } catch (err) {
      await this.opts.workDir.remove(dir);
      throw err;
    }
    const started = mv.start().then(() => this.changed());
    if (req.synchronous === false) {
      started.catch(() => {}); // the reason stays in describe (state FAILED)
      return mv;
    }
    try {
      await withStartupTimeout(started, req.startupTimeout ?? this.opts.startupTimeout, mv);
    } catch (err) {
      await this.remove(mv);
      throw err;
    }
    return mv;
  }

  private settingsFor(name: string, version: string, modelConfig: Record<string, unknown>, req: RegisterRequest): ModelSettings {
    const d = this.opts.defaults;
    const yaml = settingsFromModelConfig(modelConfig, req.url);
    const s = {
      ...d,
      device: d.device ?? 'cpu',
      ...this.opts.perModel?.(name, version),
      ...yaml,
      ...req.overrides,
    } as ModelSettings & { intraOpThreads?: number };
    if (req.initialWorkers !== undefined) {
      s.minWorkers = req.initialWorkers;
      s.maxWorkers = Math.max(req.initialWorkers, s.maxWorkers);
    }
    if (s.maxWorkers < s.minWorkers) s.maxWorkers = s.minWorkers;
    // A model that may grow gets the budget of its largest size, so growing never oversubscribes the cores.
    s.intraOpThreads = s.intraOpThreads || this.opts.threadsFor(Math.max(1, s.maxWorkers));
    return s;
  }

  private add(mv: ModelVersion, makeDefault: boolean): void {
    let entry = this.models.get(mv.name);
    if (!entry) {
      entry = { versions: new Map(), defaultVersion: mv.version };
      this.models.set(mv.name, entry);
    }
    entry.versions.set(mv.version, mv);
    if (makeDefault) entry.defaultVersion = mv.version;
    this.changed();
  }

  /** The named version, or the default one. */
  get(name: string, version?: string): ModelVersion {
    const entry = this.models.get(name);
    if (!entry) throw new ServeError('ModelNotFound', `Model not found: ${name}`);
    const v = version ?? entry.defaultVersion;
    const mv = entry.versions.get(v);
    if (!mv) throw new ServeError('ModelNotFound', `Model version: ${v} does not exist for model: ${name}`);
    return mv;
  }

  /** True when a model of this name is registered (in any state). */
  has(name: string): boolean {
    return this.models.has(name);
  }

  versionsOf(name: string): ModelVersion[] {
    const entry = this.models.get(name);
    if (!entry) throw new ServeError('ModelNotFound', `Model not found: ${name}`);
    return [...entry.versions.values()];
  }

  defaultVersionOf(name: string): string | undefined {
    return this.models.get(name)?.defaultVersion;
  }

  setDefault(name: string, version: string): void {
    const mv = this.get(name, version);
    this.models.get(name)!.defaultVersion = mv.version;
    this.changed();
  }

  /** Sets a version's worker bounds; with `wait`, resolves once the new workers are ready. */
  async scale(mv: ModelVersion, minWorkers: number, maxWorkers: number, wait: boolean): Promise<void> {
    const scaling = mv.scale(minWorkers, maxWorkers, wait);
    this.changed();
    await scaling;
  }

  /** Default versions, sorted by name. */
  list(): ModelVersion[] {
    return [...this.models.keys()].sort().map((n) => this.get(n));
  }

  all(): ModelVersion[] {
    return [...this.models.values()].flatMap((e) => [...e.versions.values()]);
  }

  /** Healthy when every model version has its minimum of ready workers. */
  healthy(): boolean {
    return this.all().every((mv) => mv.healthy);
  }

  /**
   * Unregisters a version (the default when none is named). The default version cannot go while others remain
   * (TorchServe's 403): set another default first.
   */
  async unregister(name: string, version?: string): Promise<ModelVersion> {
    const mv = this.get(name, version);
    const entry = this.models.get(name)!;
    if (entry.defaultVersion === mv.version && entry.versions.size > 1) {
      throw new ServeError('Forbidden', `Cannot remove default version ${mv.version} for model ${name}; set another default first`);
    }
    await this.remove(mv);
    return mv;
  }

  private async remove(mv: ModelVersion): Promise<void> {
    const entry = this.models.get(mv.name);
    if (entry?.versions.get(mv.version) === mv) {
      entry.versions.delete(mv.version);
      if (entry.versions.size === 0) this.models.delete(mv.name);
      else if (entry.defaultVersion === mv.version) entry.defaultVersion = [...entry.versions.keys()][0];
      this.changed();
    }
    await mv.stop(this.opts.unregisterTimeoutMs);
    await this.opts.workDir.remove(mv.dir);
  }

  private changed(): void {
    this.opts.onChange?.();
  }

  /** Unloads everything (server stop), without recording it in the snapshot. */
  async close(): Promise<void> {
    const onChange = this.opts.onChange;
    this.opts.onChange = undefined;
    try {
      await Promise.all(this.all().map((mv) => this.remove(mv)));
    } finally {
      this.opts.onChange = onChange;
    }
  }
}

/** Rejects with a 500 naming startup_timeout when the workers are not ready in time (TorchServe's behaviour). */
function withStartupTimeout(started: Promise<void>, seconds: number | undefined, mv: ModelVersion): Promise<void> {
  if (seconds === undefined || seconds <= 0) return started;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new ServeError('InternalServerError', `model "${mv.name}" version ${mv.version}: the workers did not load within ${seconds} s (startup_timeout); raise startup_timeout or default_startup_timeout`));
    }, seconds * 1000);
  });
  return Promise.race([started, timeout]).finally(() => clearTimeout(timer));
}
