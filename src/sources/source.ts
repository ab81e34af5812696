/**
 * Model sources: what turns a path into model versions ready to start. Four kinds, told apart by what the path
 * holds:
 * - a `.mar` archive, or a folder in the no-archive layout (`MAR-INF/MANIFEST.json`): unpacked into the scratch
 *   folder (`mar.ts`);
 * - a Triton repository model folder: `config.pbtxt` and/or numeric version folders holding `model.onnx`
 *   (`triton-repo.ts`), served in place;
 * - a bare ONNX model: a `.onnx` file, or a folder holding `model.onnx` (`bare-onnx.ts`), served in place with the
 *   `tensor` handler, named after its folder.
 * Sources know archives and files, never HTTP or the registry.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ServeError } from '../errors.ts';
import type { Manifest } from '../handler/contract.ts';
import type { ModelSettings } from '../registry/model-version.ts';
import { bareOnnxSource } from './bare-onnx.ts';
import { marSource } from './mar.ts';
import { tritonSource } from './triton-repo.ts';
import type { TritonModel } from './triton-model.ts';

export type SourceKind = 'mar' | 'triton' | 'onnx';

/** One model version a source yields, before it starts. */
export interface PreparedVersion {
  name: string;
  version: string;
  /** The folder the worker loads from. */
  dir: string;
  /** True when `dir` is a scratch copy the registry removes with the version (unpacked archives). */
  ownsDir: boolean;
  manifest: Manifest;
  /** The archive's model-config YAML (empty for other sources). */
  modelConfig: Record<string, unknown>;
  /** Settings the source's own configuration sets (YAML or config.pbtxt). */
  settings: Partial<ModelSettings>;
  /** For Triton repository and bare ONNX models: the model configuration, completed and checked at load. */
  triton?: TritonModel;
}

export interface PrepareOptions {
  /** The name to register under (else the manifest's, the config's or the folder's). */
  name?: string;
  /** Only this version (Triton folders hold several). */
  version?: string;
  /** A config given at load (Triton's `parameters.config`), in place of config.pbtxt. */
  config?: unknown;
  /** A fresh scratch folder for an unpacked archive. */
  scratch: (name: string) => Promise<string>;
  /** Triton's --strict-model-config: a repository model needs a complete config.pbtxt. */
  strictConfig?: boolean;
}

export interface ModelSource {
  readonly kind: SourceKind;
  /** The path as given (relative to its root); kept in snapshots. */
  readonly url: string;
  prepare(opts: PrepareOptions): Promise<PreparedVersion[]>;
}

const exists = (p: string) => fs.stat(p).then((s) => s, () => undefined);

/** A synthetic manifest for sources without one: the model file, served by `handler`. */
export function manifestFor(name: string, version: string, serializedFile: string, handler = 'tensor'): Manifest {
  return {
    createdOn: '',
    runtime: 'node',
    archiverVersion: '',
    model: { modelName: name, modelVersion: version, serializedFile, handler },
  };
}

/** Which kind of source `full` is; undefined when it is none of them. */
export async function kindOf(full: string): Promise<SourceKind | undefined> {
  const st = await exists(full);
  if (!st) return undefined;
  if (st.isFile()) {
    if (full.endsWith('.mar')) return 'mar';
    if (full.endsWith('.onnx')) return 'onnx';
    return undefined;
  }
  if (!st.isDirectory()) return undefined;
  if (await exists(path.join(full, 'MAR-INF', 'MANIFEST.json'))) return 'mar';
  if (await exists(path.join(full, 'config.pbtxt'))) return 'triton';
  const entries = await fs.readdir(full, { withFileTypes: true });
  if (entries.some((e) => e.isDirectory() && /^\d+$/.test(e.name))) return 'triton';
  if (entries.some((e) => e.name === 'model.onnx')) return 'onnx';
  return undefined;
}

/** Opens the source at `full` (`url` as the caller named it), or a 404/400 saying what the path lacks. */
export async function openSource(full: string, url: string): Promise<ModelSource> {
  const kind = await kindOf(full);
  if (!(await exists(full))) throw new ServeError('ModelNotFound', `model archive "${url}" not found in the model store`);
  switch (kind) {
    case 'mar':
      return marSource(full, url);
    case 'triton':
      return tritonSource(full, url);
    case 'onnx':
      return bareOnnxSource(full, url);
    default:
      throw new ServeError(
        'InvalidArchive',
        `"${url}" is not a model: expected a .mar archive, a no-archive folder (MAR-INF/MANIFEST.json), a Triton model folder (config.pbtxt, <version>/model.onnx) or a model.onnx`,
      );
  }
}
