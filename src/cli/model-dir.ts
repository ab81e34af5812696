/**
 * `--model-dir DIR [--model-name NAME]`: serve whatever a deployment tool left in a folder, as KServe's storage
 * initializer leaves a model in `/mnt/models`. It becomes the model store (or model repository) and the
 * `load_models` the server already has:
 * - one model: a `.mar` (or a no-archive model folder) in DIR, a bare `model.onnx` in DIR, DIR itself as a
 *   Triton model folder (`config.pbtxt`, `<version>/model.onnx`), or DIR being the `.mar`/`.onnx` file: served
 *   as NAME when given, else under its archive's (or folder's) name;
 * - several archives: each under its own name (NAME can name only one model: it is then left unused, with a
 *   warning, since KServe passes its name whatever the folder holds);
 * - TorchServe's KServe layout, archives in `DIR/model-store/` (its `config/config.properties` is not read: the
 *   server's own configuration applies);
 * - a Triton model repository (model folders in DIR): one model is served as NAME, several as the repository.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MODEL_NAME } from '../config/keys.ts';
import { kindOf } from '../sources/source.ts';

export interface ModelDirPlan {
  /** Absolute folder to use as `model_store` (absent when the folder is served as a model repository). */
  readonly modelStore?: string;
  /** Absolute folder to use as `model_repository`: every model folder in it is loaded. */
  readonly modelRepository?: string;
  /** The `load_models` value: `all`, `[name=]entry`, or empty (the repository's models only). */
  readonly loadModels: string;
  /** What was found, for the start-up log. */
  readonly found: string;
  /** Set when the name given could not be used. */
  readonly warning?: string;
}

export class ModelDirError extends Error {}

const isDir = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

/** Entries of `dir` that are archives (`.mar`, no-archive folders), and those that are other model folders. */
async function modelsIn(dir: string): Promise<{ archives: string[]; folders: string[] }> {
  const archives: string[] = [];
  const folders: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const kind = await kindOf(path.join(dir, e.name));
    if (kind === 'mar') archives.push(e.name);
    else if (kind !== undefined && e.isDirectory()) folders.push(e.name);
  }
  return { archives, folders };
}

function listing(dir: string): string {
  const names = fs.readdirSync(dir).sort();
  return names.length === 0 ? 'it is empty' : `it holds: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`;
}

export async function planModelDir(dir: string, name?: string, cwd = process.cwd()): Promise<ModelDirPlan> {
  if (name !== undefined && !MODEL_NAME.test(name)) {
    throw new ModelDirError(`--model-name "${name}" is not a valid model name (letters, digits, and _ - . after the first character)`);
  }
  const abs = path.resolve(cwd, dir);
  const entry = (file: string) => (name === undefined ? file : `${name}=${file}`);
  const one = (store: string, file: string, found: string): ModelDirPlan => ({ modelStore: store, loadModels: entry(file), found });
  const kind = await kindOf(abs);
  if (fs.statSync(abs, { throwIfNoEntry: false })?.isFile()) {
    if (kind === undefined) throw new ModelDirError(`--model-dir ${dir} is a file but not a .mar archive or an .onnx model`);
    return one(path.dirname(abs), path.basename(abs), `${kind === 'mar' ? 'archive' : 'ONNX model'} ${abs}`);
  }
  if (!isDir(abs)) throw new ModelDirError(`--model-dir ${dir}: no such file or folder`);
  // The folder is one model itself: no-archive layout, Triton model folder, or a bare model.onnx.
  if (kind !== undefined) {
    const what = kind === 'mar' ? 'model folder' : kind === 'triton' ? 'Triton model folder' : 'bare model.onnx in';
    return one(path.dirname(abs), path.basename(abs), `${what} ${abs}`);
  }
  let store = abs;
  let found = await modelsIn(abs);
  const nested = path.join(abs, 'model-store');
  if (found.archives.length === 0 && found.folders.length === 0 && isDir(nested)) {
    store = nested;
    found = await modelsIn(nested);
  }
  const { archives, folders } = found;
  if (archives.length === 1 && folders.length === 0) return one(store, archives[0], `${archives[0]} in ${store}`);
  if (archives.length === 0 && folders.length === 1) return one(store, folders[0], `model folder ${folders[0]} in ${store}`);
  const all = [...archives, ...folders];
  if (all.length === 0) throw new ModelDirError(`--model-dir ${dir}: found no model in ${abs}: no .mar, model.onnx or Triton model folder (${listing(abs)})`);
  const what = `${all.length} models in ${store} (${all.join(', ')})`;
  const warning = name === undefined ? undefined : `--model-name ${name} names one model, but ${what}: each is served under its own name`;
  // Archives alone: the store with load_models=all. With model folders (Triton, ONNX): the folder as a model
  // repository, which loads every model in it, archives included.
  const plan: ModelDirPlan =
    folders.length === 0 ? { modelStore: store, loadModels: 'all', found: what } : { modelRepository: store, loadModels: '', found: what };
  return warning ? { ...plan, warning } : plan;
}

/** The command line's `--model-dir`/`--model-name` as config values (`model_store`, `model_repository`, `load_models`). */
export async function modelDirSettings(
  opts: { modelDir?: string; modelName?: string; modelStore?: string; models?: string[]; modelRepository?: string },
  warn: (message: string) => void,
): Promise<Record<string, string>> {
  if (opts.modelDir === undefined) {
    if (opts.modelName !== undefined) throw new ModelDirError('--model-name needs --model-dir');
    return {};
  }
  if (opts.modelStore !== undefined || opts.models !== undefined || opts.modelRepository !== undefined) {
    throw new ModelDirError('--model-dir chooses the models: give it without --model-store, --models and --model-repository');
  }
  const plan = await planModelDir(opts.modelDir, opts.modelName);
  if (plan.warning) warn(plan.warning);
  return {
    ...(plan.modelStore !== undefined && { model_store: plan.modelStore }),
    ...(plan.modelRepository !== undefined && { model_repository: plan.modelRepository }),
    load_models: plan.loadModels,
  };
}
