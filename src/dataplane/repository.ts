/**
 * Triton's model repository extension over the model store: index, load (`{m}.mar`, or a no-archive folder
 * `{m}`, registered under the name `m`) and unload (every version). Loads only what is already in the store.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ServeError } from '../errors.ts';
import type { ModelVersion } from '../registry/model-version.ts';
import type { Registry } from '../registry/registry.ts';

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

/** Archive files and no-archive folders in the store, by the model name the load endpoint takes. */
async function storeEntries(store: string | undefined): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!store) return out;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(store, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.isFile() && e.name.endsWith('.mar')) out.set(e.name.slice(0, -4), e.name);
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
  for (const [name, file] of await storeEntries(registry.modelStore)) {
    if (!names.has(name) && !urls.has(file)) entries.push({ name, state: 'UNAVAILABLE', reason: 'unloaded' });
  }
  entries.sort((a, b) => a.name.localeCompare(b.name) || (a.version ?? '').localeCompare(b.version ?? ''));
  return readyOnly ? entries.filter((e) => e.state === 'READY') : entries;
}

/** The store entry to load for `name`: `{name}.mar`, else a no-archive folder `{name}`. */
async function sourceFor(registry: Registry, name: string): Promise<string> {
  for (const url of [`${name}.mar`, name]) {
    const full = registry.resolveInStore(url);
    const stat = await fs.stat(full).catch(() => undefined);
    if (stat && (url.endsWith('.mar') ? stat.isFile() : stat.isDirectory())) return url;
  }
  throw new ServeError('ModelNotFound', `model "${name}" is not in the model store (no ${name}.mar)`);
}

/** Loads `name` from the store; a model already registered under that name stays as it is. */
export async function loadModel(registry: Registry, name: string, parameters: Record<string, unknown> | undefined): Promise<void> {
  const refused = Object.keys(parameters ?? {}).filter((k) => k === 'config' || k.startsWith('file:'));
  if (refused.length > 0) {
    throw new ServeError('BadRequest', `load parameter${refused.length > 1 ? 's' : ''} ${refused.join(', ')} not supported: put the model in the model store as ${name}.mar`);
  }
  if (registry.all().some((mv) => mv.name === name)) return;
  const url = await sourceFor(registry, name);
  try {
    await registry.register({ url, modelName: name });
  } catch (err) {
    if (err instanceof ServeError && err.kind === 'Conflict') return; // loaded meanwhile
    throw err;
  }
}

/** Unloads every version of `name` (the default last, as the registry wants). */
export async function unloadModel(registry: Registry, name: string): Promise<void> {
  const versions = registry.versionsOf(name);
  const dflt = registry.defaultVersionOf(name);
  const order = [...versions.filter((v) => v.version !== dflt), ...versions.filter((v) => v.version === dflt)];
  for (const mv of order) await registry.unregister(name, mv.version);
}
