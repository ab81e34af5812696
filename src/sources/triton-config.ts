/**
 * A Triton model configuration (`config.pbtxt`, or the JSON `load` takes as `parameters.config`): read, checked for
 * what modelserver can serve, completed from the ONNX model where fields are missing (Triton's auto-complete for
 * ONNX), and checked against the model (names, types, ranks) once a worker has opened it.
 */
import { ServeError } from '../errors.ts';
import type { ModelIO, TensorInfo } from '../pool/messages.ts';
import { fromJson, fromText, SchemaError } from './pbschema.ts';
import { parseTextFormat, TextFormatError } from './textproto.ts';
import { MODEL_CONFIG } from './triton-schema.ts';

export interface TensorConfig {
  name: string;
  data_type?: string;
  dims?: number[];
  reshape?: { shape?: number[] };
  optional?: boolean;
  label_filename?: string;
  [k: string]: unknown;
}

export interface QueuePolicy {
  timeout_action?: 'REJECT' | 'DELAY';
  default_timeout_microseconds?: number;
  allow_timeout_override?: boolean;
  max_queue_size?: number;
}

export interface TritonConfig {
  name?: string;
  platform?: string;
  backend?: string;
  max_batch_size?: number;
  version_policy?: { latest?: { num_versions?: number }; all?: object; specific?: { versions?: number[] } };
  input?: TensorConfig[];
  output?: TensorConfig[];
  dynamic_batching?: { preferred_batch_size?: number[]; max_queue_delay_microseconds?: number; default_queue_policy?: QueuePolicy; [k: string]: unknown };
  instance_group?: Array<{ name?: string; kind?: string; count?: number; gpus?: number[]; [k: string]: unknown }>;
  default_model_filename?: string;
  parameters?: Record<string, { string_value?: string }>;
  model_warmup?: Array<{ name?: string; batch_size?: number; count?: number; inputs?: Record<string, { data_type?: string; dims?: number[]; zero_data?: boolean; random_data?: boolean; input_data_file?: string }> }>;
  [k: string]: unknown;
}

/** Triton's TYPE_* names by onnxruntime element type. */
export const TYPE_OF_ORT: Readonly<Record<string, string>> = {
  bool: 'TYPE_BOOL', uint8: 'TYPE_UINT8', uint16: 'TYPE_UINT16', uint32: 'TYPE_UINT32', uint64: 'TYPE_UINT64',
  int8: 'TYPE_INT8', int16: 'TYPE_INT16', int32: 'TYPE_INT32', int64: 'TYPE_INT64', float16: 'TYPE_FP16',
  float32: 'TYPE_FP32', float64: 'TYPE_FP64', string: 'TYPE_STRING', bfloat16: 'TYPE_BF16',
};

const ONNX_PLATFORMS = new Set(['onnxruntime_onnx']);
const ONNX_BACKENDS = new Set(['onnxruntime', 'onnx']);

function bad(source: string, message: string): never {
  throw new ServeError('InvalidArchive', `${source}: ${message}`);
}

/** Parses `config.pbtxt` text; errors name the file, the line and the field. */
export function parseConfigText(text: string, source: string): TritonConfig {
  try {
    return fromText(parseTextFormat(text), MODEL_CONFIG) as TritonConfig;
  } catch (err) {
    if (err instanceof TextFormatError || err instanceof SchemaError) bad(source, err.message);
    throw err;
  }
}

/** Checks a JSON config (protobuf JSON mapping of ModelConfig). */
export function parseConfigJson(json: unknown, source: string): TritonConfig {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new ServeError('BadRequest', `${source}: the config is not JSON: ${(err as Error).message}`);
    }
  }
  try {
    return fromJson(value, MODEL_CONFIG) as TritonConfig;
  } catch (err) {
    if (err instanceof SchemaError) throw new ServeError('BadRequest', `${source}: config ${err.message}`);
    throw err;
  }
}

/** What modelserver cannot serve is refused here, before anything loads, naming the field. */
export function checkServable(cfg: TritonConfig, source: string): void {
  const { platform, backend } = cfg;
  if (platform && !ONNX_PLATFORMS.has(platform)) {
    bad(source, `platform "${platform}" is not supported: modelserver runs ONNX models (platform "onnxruntime_onnx" or backend "onnxruntime")`);
  }
  if (backend && !ONNX_BACKENDS.has(backend)) {
    bad(source, `backend "${backend}" is not supported: modelserver runs ONNX models (backend "onnxruntime")`);
  }
  if (cfg.sequence_batching) bad(source, 'sequence_batching is not supported (stateful models)');
  if (cfg.ensemble_scheduling) bad(source, 'ensemble_scheduling is not supported');
  if ((cfg.model_transaction_policy as { decoupled?: boolean } | undefined)?.decoupled) bad(source, 'model_transaction_policy.decoupled is not supported');
  if ((cfg.batch_input as unknown[] | undefined)?.length) bad(source, 'batch_input is not supported');
  if ((cfg.batch_output as unknown[] | undefined)?.length) bad(source, 'batch_output is not supported');
  const mbs = cfg.max_batch_size ?? 0;
  if (mbs < 0) bad(source, `max_batch_size ${mbs} must be 0 (no batch dimension) or more`);
  for (const kind of ['input', 'output'] as const) {
    const seen = new Set<string>();
    (cfg[kind] ?? []).forEach((t, i) => {
      if (!t.name) bad(source, `${kind}[${i}].name must be set`);
      if (seen.has(t.name)) bad(source, `${kind}[${i}].name "${t.name}" appears twice`);
      seen.add(t.name);
      if (t.data_type === 'TYPE_INVALID') bad(source, `${kind} "${t.name}": data_type must be set`);
      for (const d of t.dims ?? []) if (d < -1 || d === 0) bad(source, `${kind} "${t.name}": dims ${JSON.stringify(t.dims)}: each dim must be positive or -1`);
    });
  }
  for (const [i, g] of (cfg.instance_group ?? []).entries()) {
    if (g.count !== undefined && g.count < 0) bad(source, `instance_group[${i}].count ${g.count} must be 1 or more`);
    if (g.kind === 'KIND_MODEL') bad(source, `instance_group[${i}].kind KIND_MODEL is not supported: use KIND_CPU`);
  }
}

/** A model dim as Triton writes it: -1 for a dynamic one. */
function dimOf(d: number | string): number {
  return typeof d === 'number' && d > 0 ? d : -1;
}

/** Does every tensor of the model have a dynamic first dimension (a batch dimension)? */
export function batchable(io: ModelIO): boolean {
  return [...io.inputs, ...io.outputs].every((t) => t.shape.length > 0 && dimOf(t.shape[0]) === -1);
}

/**
 * Fills what the config leaves out from the model (Triton's ONNX auto-complete): inputs and outputs (name, type,
 * dims without the batch dimension when max_batch_size > 0), and max_batch_size itself (`defaultBatch` when every
 * tensor has a dynamic first dim and dynamic batching is wanted, else 0). `strict` (--strict-model-config) fills
 * nothing: the config must say everything itself.
 */
export function completeConfig(cfg: TritonConfig, io: ModelIO, defaultBatch: number, strict: boolean): TritonConfig {
  const out: TritonConfig = { ...cfg };
  if (!strict) {
    out.platform ??= 'onnxruntime_onnx';
    out.backend ??= 'onnxruntime';
    if (out.max_batch_size === undefined) out.max_batch_size = batchable(io) ? Math.max(1, defaultBatch) : 0;
  }
  const skip = (out.max_batch_size ?? 0) > 0 ? 1 : 0;
  const fill = (given: TensorConfig[] | undefined, model: TensorInfo[]): TensorConfig[] => {
    if (strict) return given ?? [];
    const list = (given ?? []).map((t) => ({ ...t }));
    for (const m of model) {
      let t = list.find((x) => x.name === m.name);
      if (!t) {
        t = { name: m.name };
        list.push(t);
      }
      t.data_type ??= TYPE_OF_ORT[m.type] ?? 'TYPE_INVALID';
      t.dims ??= m.shape.slice(skip).map(dimOf);
    }
    return list;
  };
  out.input = fill(cfg.input, io.inputs);
  out.output = fill(cfg.output, io.outputs);
  return out;
}

/** Refuses a config that disagrees with the model: unknown names, types, ranks or fixed dims, naming the field. */
export function checkAgainstModel(cfg: TritonConfig, io: ModelIO, source: string): void {
  const mbs = cfg.max_batch_size ?? 0;
  if (mbs > 0 && !batchable(io)) {
    const t = [...io.inputs, ...io.outputs].find((x) => x.shape.length === 0 || dimOf(x.shape[0]) !== -1)!;
    bad(source, `max_batch_size ${mbs} needs a dynamic first dimension on every tensor, but "${t.name}" has shape [${t.shape.join(',')}]: set max_batch_size to 0`);
  }
  for (const kind of ['input', 'output'] as const) {
    const model = kind === 'input' ? io.inputs : io.outputs;
    (cfg[kind] ?? []).forEach((t, i) => {
      const m = model.find((x) => x.name === t.name);
      const field = `${kind}[${i}]`;
      if (!m) bad(source, `${field}.name "${t.name}" is not an ${kind} of the model (${kind}s: ${model.map((x) => x.name).join(', ')})`);
      const want = TYPE_OF_ORT[m.type];
      if (t.data_type && t.data_type !== want) bad(source, `${field}.data_type ${t.data_type} of "${t.name}" does not match the model's ${want ?? m.type}`);
      const dims = t.reshape?.shape ?? t.dims;
      if (!dims) return;
      const modelDims = m.shape.slice(mbs > 0 ? 1 : 0).map(dimOf);
      const what = t.reshape ? 'reshape.shape' : 'dims';
      if (dims.length !== modelDims.length) {
        bad(source, `${field}.${what} [${dims.join(',')}] of "${t.name}" has rank ${dims.length}, the model's has rank ${modelDims.length} ([${modelDims.join(',')}]${mbs > 0 ? ' after the batch dimension' : ''})`);
      }
      dims.forEach((d, k) => {
        if (modelDims[k] !== -1 && d !== -1 && d !== modelDims[k]) {
          bad(source, `${field}.${what} [${dims.join(',')}] of "${t.name}": dim ${k} is ${d}, the model's is ${modelDims[k]}`);
        }
      });
    });
  }
  const names = new Set(io.inputs.map((x) => x.name));
  if (cfg.input && cfg.input.length > 0) {
    for (const m of io.inputs) {
      if (!cfg.input.some((t) => t.name === m.name)) bad(source, `the model's input "${m.name}" is missing from the config's input list`);
    }
  }
  for (const [i, w] of (cfg.model_warmup ?? []).entries()) {
    for (const n of Object.keys(w.inputs ?? {})) if (!names.has(n)) bad(source, `model_warmup[${i}].inputs "${n}" is not an input of the model`);
  }
}
