/** Server and model metadata and readiness, in the Open Inference Protocol v2 shapes. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TensorInfo } from '../pool/messages.ts';
import type { ModelVersion } from '../registry/model-version.ts';
import type { Registry } from '../registry/registry.ts';
import { v2Datatype, v2Shape } from './validate.ts';

/** The extensions this server implements, as Triton names them. */
export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'model_configuration', 'statistics', 'classification'];

/** The nearest package.json above this file (src/dataplane under tsx, dist/src/dataplane when built). */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'modelserver' && pkg.version) return pkg.version;
    } catch {
      // not here: look further up
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

const VERSION = packageVersion();

export function serverMetadata(): { name: string; version: string; extensions: string[] } {
  return { name: 'modelserver', version: VERSION, extensions: [...EXTENSIONS] };
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

function tensor(t: TensorInfo): TensorMetadata {
  return { name: t.name, datatype: v2Datatype(t) || t.type.toUpperCase() || 'UNKNOWN', shape: v2Shape(t) };
}

export function modelMetadata(registry: Registry, mv: ModelVersion) {
  const io = mv.io;
  return {
    name: mv.name,
    versions: registry
      .versionsOf(mv.name)
      .map((v) => v.version)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
    platform: 'onnxruntime_onnx',
    inputs: io ? io.inputs.map(tensor) : [],
    outputs: io ? io.outputs.map(tensor) : [],
  };
}

/** Ready to infer: loaded and with a worker. */
export function isReady(mv: ModelVersion): boolean {
  return mv.state === 'READY' && mv.readyWorkers > 0;
}
