/**
 * Triton's `model_warmup`: each sample (zero, random, or a raw file from the model's `warmup/` folder) is run
 * `count` times on every worker before the version is READY; a failed sample fails the load, as in Triton.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ServeError } from '../errors.ts';
import type { BatchResult, BatchTask, WireRequest, WireTensor } from '../pool/messages.ts';
import type { TritonConfig } from './triton-config.ts';
import { TYPE_OF_ORT } from './triton-config.ts';

const ORT_OF_TYPE = Object.fromEntries(Object.entries(TYPE_OF_ORT).map(([ort, t]) => [t, ort]));
const SIZE: Record<string, number> = {
  bool: 1, uint8: 1, int8: 1, uint16: 2, int16: 2, float16: 2, bfloat16: 2, uint32: 4, int32: 4, float32: 4,
  uint64: 8, int64: 8, float64: 8, string: 0,
};

export type RunTask = (task: BatchTask, transfer: ArrayBuffer[]) => Promise<BatchResult>;

async function tensorOf(name: string, spec: NonNullable<NonNullable<TritonConfig['model_warmup']>[number]['inputs']>[string], batch: number | undefined, modelDir: string | undefined, where: string): Promise<WireTensor> {
  const type = ORT_OF_TYPE[spec.data_type ?? ''];
  if (!type) throw new ServeError('InvalidArchive', `${where}: input "${name}" needs a data_type`);
  const shape = [...(batch !== undefined ? [batch] : []), ...(spec.dims ?? [])];
  if (shape.some((d) => d < 0)) throw new ServeError('InvalidArchive', `${where}: input "${name}" has a variable dim in ${JSON.stringify(spec.dims)}: warm-up dims must be fixed`);
  const count = shape.reduce((a, b) => a * b, 1);
  let data: Uint8Array;
  if (spec.input_data_file) {
    const file = path.resolve(modelDir ?? '.', 'warmup', spec.input_data_file);
    if (!modelDir || path.relative(path.join(modelDir, 'warmup'), file).startsWith('..')) {
      throw new ServeError('InvalidArchive', `${where}: input_data_file "${spec.input_data_file}" must be in the model's warmup folder`);
    }
    data = new Uint8Array(await fs.readFile(file).catch(() => {
      throw new ServeError('InvalidArchive', `${where}: input_data_file "${spec.input_data_file}" is missing from the model's warmup folder`);
    }));
  } else if (type === 'string') {
    data = new Uint8Array(4 * count); // empty strings: a zero length each
  } else {
    data = new Uint8Array(SIZE[type] * count);
    if (spec.random_data) {
      if (type === 'float32' || type === 'float64') {
        const view = type === 'float32' ? new Float32Array(data.buffer) : new Float64Array(data.buffer);
        for (let i = 0; i < view.length; i++) view[i] = Math.random();
      } else if (type === 'bool') for (let i = 0; i < data.length; i++) data[i] = Math.random() < 0.5 ? 1 : 0;
      else for (let i = 0; i < data.length; i++) data[i] = Math.floor(Math.random() * 128); // small, non-negative values
    }
  }
  const dt = (TYPE_OF_ORT[type] ?? '').replace('TYPE_', '').replace('STRING', 'BYTES');
  return { name, type, datatype: dt, shape, data };
}

/** Runs every warm-up sample on each of `workers` workers; throws, naming the sample, if one fails. */
export async function warmUp(cfg: TritonConfig, modelDir: string | undefined, workers: number, run: RunTask, source: string): Promise<void> {
  const samples = cfg.model_warmup ?? [];
  const batched = (cfg.max_batch_size ?? 0) > 0;
  for (const [i, w] of samples.entries()) {
    const where = `${source}: model_warmup[${i}]${w.name ? ` "${w.name}"` : ''}`;
    const batch = batched ? Math.max(1, w.batch_size ?? 1) : undefined;
    const inputs = await Promise.all(Object.entries(w.inputs ?? {}).map(([name, spec]) => tensorOf(name, spec, batch, modelDir, where)));
    for (let n = 0; n < Math.max(1, w.count ?? 1); n++) {
      const results = await Promise.all(
        Array.from({ length: Math.max(1, workers) }, () => {
          const tensors = inputs.map((t) => ({ ...t, data: t.data.slice() }));
          const request: WireRequest = {
            requestId: `warmup-${i}-${n}`,
            data: null,
            body: null,
            fields: {},
            headers: {},
            query: {},
            contentType: 'application/json',
            v2: { inputs: tensors, outputs: null },
          };
          return run({ requests: [request] }, tensors.map((t) => t.data.buffer as ArrayBuffer));
        }),
      );
      for (const r of results) {
        const response = r.responses[0];
        if (!response?.ok) throw new ServeError('InvalidArchive', `${where} failed: ${response ? response.error.message : 'no response'}`);
      }
    }
  }
}
