/** Creating onnxruntime sessions inside a worker, always with an explicit thread budget. */
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { notOnnxMessage, ONNX_EXPORT_HINT, sniffModelFormat } from '../archive/model-format.ts';
import { ServeError } from '../errors.ts';
import type { SessionOptions } from '../handler/contract.ts';

export interface SessionBudget {
  intraOpThreads: number;
  device: string;
  /**
   * Keep onnxruntime's CPU arena (the archive's `cpuMemArena: true`). Off by default: the arena holds a worker's
   * largest batch of activations for good (about 65 MB for ResNet-18 at batch 8); without it they go back to the
   * kernel after each run, at about 2% of inference time with the server's malloc settings (src/cli/malloc.ts).
   */
  cpuMemArena?: boolean;
}

export function executionProvidersFor(device: string): ort.InferenceSession.SessionOptions['executionProviders'] {
  const cuda = /^cuda(?::(\d+))?$/.exec(device);
  if (cuda) return [{ name: 'cuda', deviceId: Number(cuda[1] ?? 0) }, 'cpu'];
  return ['cpu'];
}

/** Resolves `file` inside `modelDir`, refusing anything that points outside it. */
export function fileInModelDir(modelDir: string, file: string): string {
  const full = path.resolve(modelDir, file);
  const rel = path.relative(modelDir, full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new ServeError('BadRequest', `"${file}" is not a file inside the model's archive`);
  }
  return full;
}

export async function createSession(
  modelDir: string,
  file: string,
  budget: SessionBudget,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const full = fileInModelDir(modelDir, file);
  const notOnnx = notOnnxMessage(await sniffModelFormat(full).catch(() => 'unknown' as const), file);
  if (notOnnx) throw new ServeError('InvalidArchive', notOnnx);
  try {
    return await ort.InferenceSession.create(full, {
      intraOpNumThreads: options.intraOpNumThreads ?? budget.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      enableCpuMemArena: options.enableCpuMemArena ?? budget.cpuMemArena ?? false,
      executionProviders: options.executionProviders ?? executionProvidersFor(budget.device),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (!/Protobuf parsing failed/i.test(message)) throw err;
    throw new ServeError('InvalidArchive', `${file} is not an ONNX model (onnxruntime: Protobuf parsing failed); ${ONNX_EXPORT_HINT}`);
  }
}
