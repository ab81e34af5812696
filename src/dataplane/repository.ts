/**
 * Triton's model repository extension over the model repository and the model store: index, load (the
 * repository's folder `{m}`, else the store's `{m}.mar` or no-archive folder `{m}`, registered under the name `m`;
 * `parameters.config` is a JSON model config used in place of config.pbtxt) and unload (every version). Loads only
 * what is already there. With a model repository in control mode none or poll, load and unload are refused as
 * Triton refuses them.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ServeError } from '../errors.ts';
import type { ModelVersion } from '../registry/model-version.ts';
import type { Registry } from '../registry/registry.ts';
import { kindOf } from '../sources/source.ts';

export interface IndexEntry {
  name: string;
  version?: string;
  state: 'READY' | 'LOADING' | 'UNLOADING' | 'UNAVAILABLE';
  reason?: string;
}

function entryOf(mv: ModelVersion): IndexEntry {
  switch (mv.state) {
    case 'READY':
      return { name: mv.name, version: mv.version, state: 'READY' };
    case 'LOADING':
      return { name: mv.name, version: mv.version, state: 'LOADING' };
    case 'UNLOADING':
      return { name: mv.name, version: mv.version, state: 'UNLOADING' };
    default:
      return { name: mv.name, version: mv.version, state: 'UNAVAILABLE', reason: mv.failure ?? 'failed to load' };
  }
}

/** Repository models (any source kind), by folder name. */
async function repositoryEntries(repo: string | undefined, out: Map<string, string>): Promise<void> {
  if (!repo) return;
  const entries = await fs.readdir(repo, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (!e.name.startsWith('.') && (await kindOf(path.join(repo, e.name)))) out.set(e.name, e.name);
}

/** Repository models, then archive files and no-archive folders in the store, by the model name load takes. */
async function storeEntries(store: string | undefined, repo?: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await repositoryEntries(repo, out);
  if (!store) return out;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(store, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.isFile() && e.name.endsWith('.mar')) {
      if (!out.has(e.name.slice(0, -4))) out.set(e.name.slice(0, -4), e.name);
    }
    else if (e.isDirectory() && !out.has(e.name)) {
      const manifest = path.join(store, e.name, 'MAR-INF', 'MANIFEST.json');
      if (await fs.stat(manifest).then(() => true, () => false)) out.set(e.name, e.name);
    }
  }
  return out;
}

/** Every registered version, plus each store archive not loaded (UNAVAILABLE, "unloaded"); `ready` keeps READY ones. */
export async function repositoryIndex(registry: Registry, readyOnly: boolean): Promise<IndexEntry[]> {
  const loaded = registry.all();
  const entries = loaded.map(entryOf);
  const names = new Set(loaded.map((mv) => mv.name));
  const urls = new Set(loaded.map((mv) => mv.url));
  for (const [name, file] of await storeEntries(registry.modelStore, registry.modelRepository)) {
    if (!names.has(name) && !urls.has(file)) entries.push({ name, state: 'UNAVAILABLE', reason: 'unloaded' });
  }
  entries.sort((a, b) => a.name.localeCompare(b.name) || (a.version ?? '').localeCompare(b.version ?? ''));
  return readyOnly ? entries.filter((e) => e.state === 'READY') : entries;
}

/** What to load for `name`: the repository's folder `{name}`, else the store's `{name}.mar` or folder `{name}`. */
async function sourceFor(registry: Registry, name: string): Promise<string> {
  const repo = registry.modelRepository;
  if (repo && !name.includes('/') && name !== '..' && (await kindOf(path.join(repo, name)))) return name;
  if (!registry.modelStore) throw new ServeError('ModelNotFound', `model "${name}" is not in the model repository`);
  for (const url of [`${name}.mar`, name]) {
    const full = registry.resolveInStore(url);
    const stat = await fs.stat(full).catch(() => undefined);
    if (stat && (url.endsWith('.mar') ? stat.isFile() : stat.isDirectory())) return url;
  }
  throw new ServeError('ModelNotFound', `model "${name}" is not in the model store (no ${name}.mar)`);
}

/** Triton refuses explicit load and unload unless --model-control-mode=explicit. */
function checkControl(registry: Registry): void {
  if (registry.modelRepository && registry.modelControlMode !== 'explicit') {
    throw new ServeError('ServiceUnavailable', 'explicit model load / unload is not allowed if polling is enabled');
  }
}

/**
 * Loads `name`; a model already registered under that name stays as it is, unless a config is given: then it is
 * reloaded with that config (Triton's load with `parameters.config`).
 */
export async function loadModel(registry: Registry, name: string, parameters: Record<string, unknown> | undefined): Promise<void> {
  checkControl(registry);
  const refused = Object.keys(parameters ?? {}).filter((k) => k.startsWith('file:'));
  if (refused.length > 0) {
    throw new ServeError('BadRequest', `load parameter${refused.length > 1 ? 's' : ''} ${refused.join(', ')} not supported: put the model files in the model repository`);
  }
  const config = parameters?.config;
  if (config !== undefined && typeof config !== 'string' && (config === null || typeof config !== 'object')) {
    throw new ServeError('BadRequest', 'load parameter "config" must be a JSON model configuration (a string or an object)');
  }
  const loaded = registry.all().some((mv) => mv.name === name);
  if (loaded && config === undefined) return;
  const url = await sourceFor(registry, name);
  if (loaded) await unloadModel(registry, name, true);
  try {
    await registry.register({ url, modelName: name, config });
  } catch (err) {
    if (err instanceof ServeError && err.kind === 'Conflict') return; // loaded meanwhile
    throw err;
  }
}

/** Unloads every version of `name` (the default last, as the registry wants). */
export async function unloadModel(registry: Registry, name: string, reloading = false): Promise<void> {
  if (!reloading) checkControl(registry);
  const versions = registry.versionsOf(name);
  const dflt = registry.defaultVersionOf(name);
  const order = [...versions.filter((v) => v.version !== dflt), ...versions.filter((v) => v.version === dflt)];
  for (const mv of order) await registry.unregister(name, mv.version);
}
