/**
 * `--model-dir DIR [--model-name NAME]`: serve whatever a deployment tool left in a folder, as KServe's storage
 * initializer leaves a model in `/mnt/models`. It becomes the model store and `load_models` the server already
 * has:
 * - one `.mar` (or one no-archive model folder), served as NAME when given, else under its archive's name;
 * - several, each under its own name (NAME can name only one model: it is then left unused, with a warning, since
 *   KServe passes its name whatever the folder holds);
 * - TorchServe's KServe layout, archives in `DIR/model-store/` (its `config/config.properties` is not read: the
 *   server's own configuration applies);
 * - DIR may also be the `.mar` file itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MODEL_NAME } from '../config/keys.ts';

export interface ModelDirPlan {
  /** Absolute folder to use as `model_store`. */
  readonly modelStore: string;
  /** The `load_models` value: `all`, or `[name=]entry`. */
  readonly loadModels: string;
  /** What was found, for the start-up log. */
  readonly found: string;
  /** Set when the name given could not be used. */
  readonly warning?: string;
}

export class ModelDirError extends Error {}

const isFile = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
const isDir = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
const isModelFolder = (p: string) => isFile(path.join(p, 'MAR-INF', 'MANIFEST.json'));

/** `.mar` files and no-archive model folders directly in `dir`, sorted. */
function modelsIn(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => (e.isFile() && e.name.endsWith('.mar')) || (e.isDirectory() && isModelFolder(path.join(dir, e.name))))
    .map((e) => e.name)
    .sort();
}

function listing(dir: string): string {
  const names = fs.readdirSync(dir).sort();
  return names.length === 0 ? 'it is empty' : `it holds: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`;
}

export function planModelDir(dir: string, name?: string, cwd = process.cwd()): ModelDirPlan {
  if (name !== undefined && !MODEL_NAME.test(name)) {
    throw new ModelDirError(`--model-name "${name}" is not a valid model name (letters, digits, and _ - . after the first character)`);
  }
  const abs = path.resolve(cwd, dir);
  const entry = (file: string) => (name === undefined ? file : `${name}=${file}`);
  if (isFile(abs)) {
    if (!abs.endsWith('.mar')) throw new ModelDirError(`--model-dir ${dir} is a file but not a .mar archive`);
    return { modelStore: path.dirname(abs), loadModels: entry(path.basename(abs)), found: `archive ${abs}` };
  }
  if (!isDir(abs)) throw new ModelDirError(`--model-dir ${dir}: no such file or folder`);
  if (isModelFolder(abs)) {
    return { modelStore: path.dirname(abs), loadModels: entry(path.basename(abs)), found: `model folder ${abs}` };
  }
  let store = abs;
  let models = modelsIn(abs);
  const nested = path.join(abs, 'model-store');
  if (models.length === 0 && isDir(nested)) {
    store = nested;
    models = modelsIn(nested);
  }
  if (models.length === 1) {
    return { modelStore: store, loadModels: entry(models[0]), found: `${models[0]} in ${store}` };
  }
  if (models.length > 1) {
    const found = `${models.length} archives in ${store} (${models.join(', ')})`;
    const warning = name === undefined ? undefined : `--model-name ${name} names one model, but ${found}: each is served under its own name`;
    return { modelStore: store, loadModels: 'all', found, ...(warning && { warning }) };
  }
  throw new ModelDirError(`--model-dir ${dir}: found no .mar archive or model folder in ${abs} (${listing(abs)})`);
}
