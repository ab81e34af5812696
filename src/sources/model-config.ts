/** The archive's model-config YAML: parsed without custom types, known keys validated, free keys kept. */
import fs from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { ServeError } from '../errors.ts';
import type { Manifest } from '../handler/contract.ts';
import type { ModelSettings } from '../registry/model-version.ts';

const INT_KEYS = ['minWorkers', 'maxWorkers', 'batchSize', 'maxBatchDelay', 'responseTimeout', 'jobQueueSize', 'intraOpThreads'] as const;

export async function readModelConfig(dir: string, manifest: Manifest, source: string): Promise<Record<string, unknown>> {
  const file = manifest.model.configFile;
  if (!file) return {};
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, file), 'utf8');
  } catch {
    throw new ServeError('InvalidArchive', `${source}: the model config "${file}" named in the manifest is missing`);
  }
  let parsed: unknown;
  try {
    // The core schema has no custom tags: nothing in a YAML file can construct objects or run code.
    parsed = YAML.parse(text, { schema: 'core', maxAliasCount: 100, prettyErrors: true });
  } catch (err) {
    throw new ServeError('InvalidArchive', `${source}: ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ServeError('InvalidArchive', `${source}: ${file} must be a mapping of keys to values`);
  }
  return parsed as Record<string, unknown>;
}

/** The settings the YAML overrides, validated. */
export function settingsFromModelConfig(cfg: Record<string, unknown>, source: string): Partial<ModelSettings> {
  const out: Partial<ModelSettings> = {};
  for (const key of INT_KEYS) {
    const v = cfg[key];
    if (v === undefined) continue;
    const min = key === 'batchSize' || key === 'jobQueueSize' ? 1 : key === 'responseTimeout' ? 1 : 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new ServeError('InvalidArchive', `${source}: model config ${key} = ${JSON.stringify(v)} is not allowed: expected an integer ≥ ${min}`);
    }
    out[key] = v;
  }
  // Read by the worker (worker/entry.ts); checked here so a bad value fails the registration with its reason.
  if (cfg.cpuMemArena !== undefined && typeof cfg.cpuMemArena !== 'boolean') {
    throw new ServeError('InvalidArchive', `${source}: model config cpuMemArena = ${JSON.stringify(cfg.cpuMemArena)} is not allowed: expected true or false`);
  }
  const device = cfg.deviceType;
  if (device !== undefined) {
    if (device !== 'cpu' && device !== 'gpu' && device !== 'cuda') {
      throw new ServeError('InvalidArchive', `${source}: model config deviceType = ${JSON.stringify(device)} is not allowed: expected cpu or gpu`);
    }
    const ids = Array.isArray(cfg.deviceIds) ? cfg.deviceIds : [0];
    out.device = device === 'cpu' ? 'cpu' : `cuda:${Number(ids[0]) || 0}`;
  }
  return out;
}
