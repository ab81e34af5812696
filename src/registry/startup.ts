/** What the server loads when it starts: the last snapshot's models, or `load_models`. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { ServeError } from '../errors.ts';
import { kindOf } from '../sources/source.ts';
import { RepositoryPoller } from './repository-poller.ts';
import type { Registry } from './registry.ts';
import type { ModelSnapshot } from './snapshot.ts';

export interface StartupModel {
  url: string;
  name?: string;
}

/** A model named at start (load_models, --models, the snapshot) that did not load, and why. */
export interface StartupFailure {
  /** The name it was to be served under: the given name, else the archive's file name without `.mar`. */
  model: string;
  url: string;
  error: string;
  /** Named by the restored snapshot (rather than load_models / --models). */
  fromSnapshot?: boolean;
}

/** The name a start-up entry would be served under when its archive cannot tell (it did not load). */
export function intendedName(m: StartupModel): string {
  return m.name ?? path.basename(m.url).replace(/\.(mar|zip|tar\.gz|tgz)$/i, '');
}

/** Archives and no-archive folders in the model store, for `load_models=all`. */
export async function everyArchive(store: string): Promise<StartupModel[]> {
  const entries = await fs.readdir(store, { withFileTypes: true });
  const out: StartupModel[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isFile() && e.name.endsWith('.mar')) out.push({ url: e.name });
    else if (e.isDirectory()) {
      const manifest = path.join(store, e.name, 'MAR-INF', 'MANIFEST.json');
      if (await fs.stat(manifest).then(() => true, () => false)) out.push({ url: e.name });
    }
  }
  return out;
}

/** Every model in a Triton model repository (its folders, of any source kind), for --model-control-mode none/poll. */
export async function everyRepositoryModel(repo: string): Promise<StartupModel[]> {
  // The repository may itself be one model (a folder holding model.onnx, as KServe mounts /mnt/models).
  const own = await kindOf(repo);
  if (own === 'onnx' || own === 'triton') return [{ url: '.' }];
  const entries = await fs.readdir(repo, { withFileTypes: true });
  const out: StartupModel[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    if (await kindOf(path.join(repo, e.name))) out.push({ url: e.name });
  }
  return out;
}

/**
 * The repository models to load at start: all of them (modes none and poll), or in explicit mode the
 * --load-model names (`*`: all). Models already registered (restored from the snapshot) are left out.
 */
export async function repositoryStartup(
  registry: Registry,
  repo: string,
  mode: 'none' | 'poll' | 'explicit',
  names: readonly string[],
): Promise<StartupModel[]> {
  const all = mode !== 'explicit' || names.includes('*') ? await everyRepositoryModel(repo) : names.map((url) => ({ url }));
  const loaded = new Set(registry.all().map((mv) => mv.url));
  return all.filter((m) => !loaded.has(m.url));
}

/**
 * Loads models side by side; one that fails is logged and left out, as TorchServe does. When several versions of
 * one model are listed, the first listed that loaded is the default, whatever order they finished loading in.
 */
export async function loadModels(registry: Registry, models: StartupModel[], log: Logger): Promise<StartupFailure[]> {
  const failures: StartupFailure[] = [];
  const loaded = await Promise.all(
    models.map(async (m) => {
      try {
        const versions = await registry.registerAll({ url: m.url, modelName: m.name, loadedAtStartup: true });
        for (const mv of versions) log.info({ model: mv.name, version: mv.version, workers: mv.readyWorkers }, 'model loaded');
        return versions.length === 1 ? versions[0] : undefined; // a Triton folder's newest version is already its default
      } catch (err) {
        const error = (err as Error).message;
        failures.push({ model: intendedName(m), url: m.url, error });
        log.error({ model: intendedName(m), url: m.url, error }, 'model failed to load at start-up');
        return undefined;
      }
    }),
  );
  const seen = new Set<string>();
  for (const mv of loaded) {
    if (!mv || seen.has(mv.name)) continue;
    seen.add(mv.name);
    registry.setDefault(mv.name, mv.version);
  }
  return failures;
}

/** Registers every version of the snapshot with its settings, then restores the default versions. */
export async function restoreSnapshot(registry: Registry, snap: ModelSnapshot, log: Logger): Promise<StartupFailure[]> {
  const failures: StartupFailure[] = [];
  const jobs: Promise<void>[] = [];
  for (const [name, versions] of Object.entries(snap.models)) {
    for (const [version, v] of Object.entries(versions)) {
      jobs.push(
        registry
          .register({
            url: v.marName,
            modelName: name,
            version,
            handler: v.handler,
            loadedAtStartup: true,
            makeDefault: v.defaultVersion,
            overrides: {
              minWorkers: v.minWorkers,
              maxWorkers: v.maxWorkers,
              batchSize: v.batchSize,
              maxBatchDelay: v.maxBatchDelay,
              responseTimeout: v.responseTimeout,
              ...(v.intraOpThreads !== undefined && { intraOpThreads: v.intraOpThreads }),
            },
          })
          .then((mv) => {
            if (mv.version !== version) log.warn({ model: name, expected: version, got: mv.version }, 'the archive now holds another version');
            log.info({ model: mv.name, version: mv.version, workers: mv.readyWorkers }, 'model restored from snapshot');
          })
          .catch((err: Error) => {
            failures.push({ model: name, url: v.marName, error: err.message, fromSnapshot: true });
            log.error({ model: name, version, url: v.marName, error: err.message }, 'model in the snapshot failed to load');
          }),
      );
    }
  }
  await Promise.all(jobs);
  for (const [name, versions] of Object.entries(snap.models)) {
    for (const [version, v] of Object.entries(versions)) {
      if (v.defaultVersion) {
        try {
          registry.setDefault(name, version);
        } catch {
          // that version failed to load; it was logged above
        }
      }
    }
  }
  return failures;
}

export interface RepositoryStartup {
  repo: string;
  mode: 'none' | 'poll' | 'explicit';
  /** --load-model names (explicit mode). */
  loadModel: readonly string[];
  /** Triton's --exit-on-error: a repository model that fails at start stops the start. */
  exitOnError: boolean;
  pollSecs: number;
}

/**
 * Loads the model repository's models as the control mode says and, in poll mode, starts following it. A missing
 * repository folder is a warning (the shipped config names one for the demo). Returns the poller to stop.
 */
export async function startRepository(
  registry: Registry,
  o: RepositoryStartup,
  log: Logger,
): Promise<{ poller?: RepositoryPoller; failures: StartupFailure[] }> {
  if (!(await fs.stat(o.repo).catch(() => undefined))?.isDirectory()) {
    log.warn({ model_repository: o.repo }, 'the model repository folder does not exist: no repository model loads');
    return { failures: [] };
  }
  const failures = await loadModels(registry, await repositoryStartup(registry, o.repo, o.mode, o.loadModel), log);
  if (failures.length > 0 && o.exitOnError) {
    const list = failures.map((f) => `${f.url}: ${f.error}`).join('; ');
    throw new ServeError('InternalServerError', `failed to load all models (--exit-on-error=false serves the others): ${list}`);
  }
  if (o.mode !== 'poll') return { failures };
  const poller = new RepositoryPoller(registry, o.repo, Math.max(1, o.pollSecs) * 1000, log);
  await poller.start();
  return { poller, failures };
}
