/**
 * Triton's classification extension: an output requested with `parameters.classification: K` comes back as a
 * BYTES tensor of the K highest values per batch entry, each `"<value>:<index>"` or `"<value>:<index>:<label>"`
 * (labels from the output's `label_filename` in config.pbtxt), highest first; shape [batch, K] for a model with a
 * batch dimension, else [K]. Values print as C++'s std::to_string does (six decimals for floats).
 */
import { ServeError } from '../errors.ts';
import { packBytes } from '../pool/bytes.ts';
import type { WireTensor } from '../pool/messages.ts';
import type { ModelVersion } from '../registry/model-version.ts';
import { batchable } from '../sources/triton-config.ts';
import { datatypeOfOrt, typedView } from './datatypes.ts';
import type { ParsedInfer } from './request.ts';

const CLASSIFIABLE = new Set(['uint8', 'uint16', 'uint32', 'uint64', 'int8', 'int16', 'int32', 'int64', 'float32', 'float64']);
const MAX_ELEMENTS = 1_000_000;
const encoder = new TextEncoder();

/** Requested class counts by output name; a bad parameter is a 400 with Triton's words. */
export function classCounts(req: ParsedInfer): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of req.outputs ?? []) {
    const c = o.parameters?.classification;
    if (c === undefined) continue;
    if (typeof c !== 'number' || !Number.isInteger(c)) {
      throw new ServeError('BadRequest', `invalid value type for 'classification' parameter of output "${o.name}", expected integer`);
    }
    if (c < 0) throw new ServeError('BadRequest', `invalid value for 'classification' parameter of output "${o.name}", expected >= 0`);
    if (c > 0) out.set(o.name, c);
  }
  return out;
}

function hasBatchDim(mv: ModelVersion): boolean {
  if (mv.triton) return (mv.triton.config.max_batch_size ?? 0) > 0;
  return mv.io !== null && batchable(mv.io);
}

function format(v: number | bigint, float: boolean): string {
  return float ? (v as number).toFixed(6) : String(v);
}

function classify(t: WireTensor, k: number, batched: boolean, labels: readonly string[] | undefined): WireTensor {
  if (!CLASSIFIABLE.has(t.type)) {
    const dt = datatypeOfOrt(t.type)?.datatype ?? t.type;
    throw new ServeError('BadRequest', `class result not available for output "${t.name}" due to unsupported type '${dt}'`);
  }
  const values = typedView(t.type, t.data);
  if (values.length > MAX_ELEMENTS) throw new ServeError('BadRequest', 'classification output tensor too large');
  const float = t.type === 'float32' || t.type === 'float64';
  const batch = batched && t.shape.length > 0 ? t.shape[0] : 0;
  const rows = Math.max(1, batch);
  const per = batch > 0 ? values.length / batch : values.length;
  const count = Math.min(k, per);
  const strings: Uint8Array[] = [];
  for (let r = 0; r < rows; r++) {
    const base = r * per;
    const idx = Array.from({ length: per }, (_, i) => i);
    idx.sort((a, b) => {
      const x = values[base + a];
      const y = values[base + b];
      return x > y ? -1 : x < y ? 1 : a - b;
    });
    for (let i = 0; i < count; i++) {
      const label = labels?.[idx[i]];
      strings.push(encoder.encode(`${format(values[base + idx[i]], float)}:${idx[i]}${label !== undefined ? `:${label}` : ''}`));
    }
  }
  return { name: t.name, type: 'string', datatype: 'BYTES', shape: batch > 0 ? [batch, count] : [count], data: packBytes(strings) };
}

/** Replaces the outputs that asked for classification with their class strings. */
export function classifyOutputs(tensors: WireTensor[], counts: Map<string, number>, mv: ModelVersion): WireTensor[] {
  if (counts.size === 0) return tensors;
  const batched = hasBatchDim(mv);
  return tensors.map((t) => {
    const k = counts.get(t.name);
    return k === undefined ? t : classify(t, k, batched, mv.triton?.labels(t.name));
  });
}
