/** Models by name and version, with a default version each. Speaks neither HTTP nor ONNX. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ServeError } from '../errors.ts';
import type { CustomMetric } from '../pool/messages.ts';
import type { RestartPolicy } from '../pool/model-pool.ts';
import type { AutoscaleOptions } from './autoscaler.ts';
import { openSource, type PreparedVersion, type SourceKind } from '../sources/source.ts';
import { ModelVersion, type ModelSettings } from './model-version.ts';
import type { WorkDir } from './workdir.ts';

export interface RegistryOptions {
  modelStore?: string;
  /** Triton's --model-repository: folders of repository models (and bare ONNX models), looked up before the store. */
  modelRepository?: string;
  /** Triton's --strict-model-config: repository models need a complete config.pbtxt. */
  strictModelConfig?: boolean;
  /** Triton's --model-control-mode (default explicit): whether the repository API may load and unload. */
  modelControlMode?: 'none' | 'poll' | 'explicit';
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
  /** Called after every change worth a snapshot (models, versions, default, workers, batch settings). */
  onChange?: () => void;
}

export interface RegisterRequest {
  /** A model inside the model repository or store: an archive, a no-archive folder, a Triton folder, a model.onnx. */
  url: string;
  modelName?: string;
  /** Only this version of a Triton folder (snapshots restore versions one by one). */
  version?: string;
  /** A Triton config (JSON) in place of config.pbtxt (the repository extension's `parameters.config`). */
  config?: unknown;
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

  get modelRepository(): string | undefined {
    return this.opts.modelRepository;
  }

  get modelControlMode(): 'none' | 'poll' | 'explicit' {
    return this.opts.modelControlMode ?? 'explicit';
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

  /**
   * Where a model named in the API, a snapshot or the start-up list lives: the model repository first (Triton
   * folders, bare ONNX models), then the model store (archives). Anything outside both is refused.
   */
  async locate(url: string): Promise<string> {
    const roots = [this.opts.modelRepository, this.opts.modelStore].filter((r): r is string => r !== undefined);
    if (roots.length === 0) {
      throw new ServeError('BadRequest', `cannot load "${url}": no model store or model repository is configured (--model-store, --model-repository)`);
    }
    let first: string | undefined;
    for (const root of roots) {
      const full = path.resolve(root, url);
      const rel = path.relative(root, full);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) continue;
      first ??= full;
      if (await fs.stat(full).then(() => true, () => false)) return full;
    }
    if (!first) throw new ServeError('BadRequest', `"${url}" is not a file in the model store`);
    throw new ServeError('ModelNotFound', `model archive "${url}" not found in the model store`);
  }

  /** Registers what `req.url` holds and returns the version that is now the newest (an archive holds one). */
  async register(req: RegisterRequest): Promise<ModelVersion> {
    const versions = await this.registerAll(req);
    return versions[versions.length - 1];
  }

  /** Registers every version the source yields (a Triton folder's version policy may pick several). */
  async registerAll(req: RegisterRequest): Promise<ModelVersion[]> {
    const source = await openSource(await this.locate(req.url), req.url);
    const prepared = await source.prepare({
      name: req.modelName,
      version: req.version,
      config: req.config,
      strictConfig: this.opts.strictModelConfig,
      scratch: (name) => this.opts.workDir.folderFor(name, 'new'),
    });
    const created: ModelVersion[] = [];
    try {
      for (const p of prepared) {
        if (this.models.get(p.name)?.versions.has(p.version) || created.some((c) => c.name === p.name && c.version === p.version)) {
          throw new ServeError('Conflict', `Model version ${p.version} for model ${p.name} already exists`);
        }
      }
      for (const p of prepared) created.push(this.create(p, source.kind, req));
    } catch (err) {
      for (const p of prepared) if (p.ownsDir) await this.opts.workDir.remove(p.dir);
      throw err;
    }
    const latest = created[created.length - 1];
    const isNew = !this.models.has(latest.name);
    for (const mv of created) this.add(mv, false);
    // Triton serves the highest version when none is named: it becomes the default of a new model.
    if ((isNew && created.length > 1) || req.makeDefault === true) this.models.get(latest.name)!.defaultVersion = latest.version;
    const starts = created.map((mv) => mv.start().then(() => this.changed()));
    const started = Promise.all(starts);
    if (req.synchronous === false) {
      started.catch(() => {}); // the reason stays in describe (state FAILED)
      return created;
    }
    try {
      await started;
    } catch (err) {
      await Promise.allSettled(starts);
      for (const mv of created) await this.remove(mv);
      throw err;
    }
    return created;
  }

  private create(p: PreparedVersion, kind: SourceKind, req: RegisterRequest): ModelVersion {
    const { name, version } = p;
    const settings = this.settingsFor(name, version, p.settings, req);
    return new ModelVersion({
      name,
      version,
      url: req.url,
      dir: p.dir,
      ownsDir: p.ownsDir,
      sourceKind: kind,
      triton: p.triton,
      manifest: p.manifest,
      handler: req.handler ?? p.manifest.model.handler,
      modelConfig: p.modelConfig,
      settings,
      loadedAtStartup: req.loadedAtStartup ?? false,
      autoscale: this.opts.autoscale,
      restart: this.opts.restart,
      maxHeapMb: this.opts.maxHeapMb,
      onMetric: this.opts.onMetric && ((m) => this.opts.onMetric!(name, version, m)),
      onWorkerProblem: this.opts.onWorkerProblem && ((msg) => this.opts.onWorkerProblem!(name, version, msg)),
      onQueueFull: this.opts.onQueueFull && (() => this.opts.onQueueFull!(name, version)),
    });
  }

  private settingsFor(name: string, version: string, own: Partial<ModelSettings>, req: RegisterRequest): ModelSettings {
    const d = this.opts.defaults;
    const s = {
      ...d,
      device: d.device ?? 'cpu',
      ...this.opts.perModel?.(name, version),
      ...own,
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
    if (mv.ownsDir) await this.opts.workDir.remove(mv.dir);
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
