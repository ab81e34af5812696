/**
 * A Triton repository model folder: `config.pbtxt` (optional unless --strict-model-config) and numeric version
 * folders, each holding the model file (`model.onnx` or `default_model_filename`; a folder of that name holding
 * `model.onnx` also works). Served in place (nothing is copied) with the `tensor` handler; the version policy picks
 * which versions load.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ServeError } from '../errors.ts';
import { manifestFor, type ModelSource, type PreparedVersion, type PrepareOptions } from './source.ts';
import { checkServable, parseConfigJson, parseConfigText, type TritonConfig } from './triton-config.ts';
import { TritonModel } from './triton-model.ts';

const bad = (message: string): never => {
  throw new ServeError('InvalidArchive', message);
};

async function readConfig(full: string, url: string, opts: PrepareOptions): Promise<TritonConfig> {
  if (opts.config !== undefined) return parseConfigJson(opts.config, `model "${url}"`);
  const file = path.join(full, 'config.pbtxt');
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) {
    if (opts.strictConfig) bad(`${url}: config.pbtxt is missing, and --strict-model-config=true needs one`);
    return {};
  }
  return parseConfigText(text, `${url}/config.pbtxt`);
}

/** Version numbers of the folder's numeric subfolders, ascending. */
async function versionFolders(full: string): Promise<number[]> {
  const entries = await fs.readdir(full, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name) && Number(e.name) > 0)
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

/** The versions the policy selects (Triton: latest 1 by default). */
export function selectVersions(available: number[], cfg: TritonConfig, url: string): number[] {
  const p = cfg.version_policy;
  if (p?.all) return available;
  if (p?.specific) {
    const want = p.specific.versions ?? [];
    for (const v of want) if (!available.includes(v)) bad(`${url}: version_policy.specific.versions names version ${v}, but there is no folder ${url}/${v}`);
    return available.filter((v) => want.includes(v));
  }
  const n = p?.latest?.num_versions ?? 1;
  if (n < 1) bad(`${url}: version_policy.latest.num_versions must be 1 or more`);
  return available.slice(-n);
}

/** The model file inside a version folder, relative to it. */
async function modelFile(versionDir: string, cfg: TritonConfig, where: string): Promise<string> {
  const name = cfg.default_model_filename || 'model.onnx';
  const st = await fs.stat(path.join(versionDir, name)).catch(() => undefined);
  if (st?.isFile()) return name;
  if (st?.isDirectory()) {
    const inner = await fs.stat(path.join(versionDir, name, 'model.onnx')).catch(() => undefined);
    if (inner?.isFile()) return path.join(name, 'model.onnx');
  }
  return bad(`${where}: the model file ${name} is missing`);
}

export function tritonSource(full: string, url: string): ModelSource {
  return {
    kind: 'triton',
    url,
    async prepare(opts: PrepareOptions): Promise<PreparedVersion[]> {
      const folder = path.basename(full);
      const cfg = await readConfig(full, url, opts);
      const name = opts.name ?? folder;
      if (cfg.name && cfg.name !== folder && cfg.name !== name) {
        bad(`${url}/config.pbtxt: name "${cfg.name}" does not match the model's folder name "${folder}"`);
      }
      checkServable(cfg, `${url}/config.pbtxt`);
      const available = await versionFolders(full);
      if (available.length === 0) bad(`${url}: no version folder (${url}/1/model.onnx)`);
      let chosen: number[];
      if (opts.version !== undefined) {
        if (!available.includes(Number(opts.version))) throw new ServeError('ModelNotFound', `${url}: there is no version ${opts.version}`);
        chosen = [Number(opts.version)];
      } else chosen = selectVersions(available, cfg, url);
      const out: PreparedVersion[] = [];
      for (const v of chosen) {
        const dir = path.join(full, String(v));
        const file = await modelFile(dir, cfg, `${url}/${v}`);
        const triton = new TritonModel({ ...cfg, name }, `${url}/config.pbtxt`, opts.strictConfig === true, full);
        out.push({
          name,
          version: String(v),
          dir,
          ownsDir: false,
          manifest: manifestFor(name, String(v), file),
          modelConfig: {},
          settings: triton.settings(),
          triton,
        });
      }
      return out;
    },
  };
}
