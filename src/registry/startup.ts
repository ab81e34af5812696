/** What the server loads when it starts: the last snapshot's models, or `load_models`. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { kindOf } from '../sources/source.ts';
import type { Registry } from './registry.ts';
import type { ModelSnapshot } from './snapshot.ts';

export interface StartupModel {
  url: string;
  name?: string;
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
export async function loadModels(registry: Registry, models: StartupModel[], log: Logger): Promise<void> {
  const loaded = await Promise.all(
    models.map(async (m) => {
      try {
        const versions = await registry.registerAll({ url: m.url, modelName: m.name, loadedAtStartup: true });
        for (const mv of versions) log.info({ model: mv.name, version: mv.version, workers: mv.readyWorkers }, 'model loaded');
        return versions.length === 1 ? versions[0] : undefined; // a Triton folder's newest version is already its default
      } catch (err) {
        log.error({ url: m.url, error: (err as Error).message }, 'model failed to load at start-up');
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
}

/** Registers every version of the snapshot with its settings, then restores the default versions. */
export async function restoreSnapshot(registry: Registry, snap: ModelSnapshot, log: Logger): Promise<void> {
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
          .catch((err: Error) => log.error({ model: name, version, url: v.marName, error: err.message }, 'model in the snapshot failed to load')),
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
}
