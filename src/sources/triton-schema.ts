/**
 * The fields of Triton's `inference.ModelConfig` (common `protobuf/model_config.proto`), as a schema for
 * `pbschema.ts`: every field a `config.pbtxt` may hold parses, so a real file never fails on a field we merely do
 * not act on; `triton-config.ts` decides what is used, ignored or refused.
 */
import type { FieldSpec, Schema } from './pbschema.ts';

export const DATA_TYPES = [
  'TYPE_INVALID', 'TYPE_BOOL', 'TYPE_UINT8', 'TYPE_UINT16', 'TYPE_UINT32', 'TYPE_UINT64', 'TYPE_INT8', 'TYPE_INT16',
  'TYPE_INT32', 'TYPE_INT64', 'TYPE_FP16', 'TYPE_FP32', 'TYPE_FP64', 'TYPE_STRING', 'TYPE_BF16',
] as const;

const dataType: FieldSpec = { type: { enum: DATA_TYPES } };
const str: FieldSpec = { type: 'string' };
const bool: FieldSpec = { type: 'bool' };
const u32: FieldSpec = { type: 'uint32' };
const i32: FieldSpec = { type: 'int32' };
const dims: FieldSpec = { type: 'int64', repeated: true, jsonNumber: true };
const strMap: FieldSpec = { type: { map: 'string', value: 'string' } };
const msg = (schema: Schema, extra: Partial<FieldSpec> = {}): FieldSpec => ({ type: { message: schema }, ...extra });

const reshape: Schema = { shape: dims };

const modelInput: Schema = {
  name: str,
  data_type: dataType,
  format: { type: { enum: ['FORMAT_NONE', 'FORMAT_NHWC', 'FORMAT_NCHW'] } },
  dims,
  reshape: msg(reshape),
  is_shape_tensor: bool,
  allow_ragged_batch: bool,
  optional: bool,
  is_non_linear_format_io: bool,
};

const modelOutput: Schema = {
  name: str,
  data_type: dataType,
  dims,
  reshape: msg(reshape),
  label_filename: str,
  is_shape_tensor: bool,
  is_non_linear_format_io: bool,
};

const batchInput: Schema = {
  kind: {
    type: {
      enum: [
        'BATCH_ELEMENT_COUNT', 'BATCH_ACCUMULATED_ELEMENT_COUNT', 'BATCH_ACCUMULATED_ELEMENT_COUNT_WITH_ZERO',
        'BATCH_MAX_ELEMENT_COUNT_AS_SHAPE', 'BATCH_ITEM_SHAPE', 'BATCH_ITEM_SHAPE_FLATTEN',
      ],
    },
  },
  target_name: { type: 'string', repeated: true },
  data_type: dataType,
  source_input: { type: 'string', repeated: true },
};

const batchOutput: Schema = {
  target_name: { type: 'string', repeated: true },
  kind: { type: { enum: ['BATCH_SCATTER_WITH_INPUT_SHAPE'] } },
  source_input: { type: 'string', repeated: true },
};

const versionPolicy: Schema = {
  latest: msg({ num_versions: u32 }, { oneof: 'policy_choice' }),
  all: msg({}, { oneof: 'policy_choice' }),
  specific: msg({ versions: dims }, { oneof: 'policy_choice' }),
};

const queuePolicy: Schema = {
  timeout_action: { type: { enum: ['REJECT', 'DELAY'] } },
  default_timeout_microseconds: { type: 'uint64', jsonNumber: true },
  allow_timeout_override: bool,
  max_queue_size: u32,
};

const dynamicBatching: Schema = {
  preferred_batch_size: { type: 'int32', repeated: true },
  max_queue_delay_microseconds: { type: 'uint64', jsonNumber: true },
  preserve_ordering: bool,
  priority_levels: { type: 'uint64', jsonNumber: true },
  default_priority_level: { type: 'uint64', jsonNumber: true },
  default_queue_policy: msg(queuePolicy),
  priority_queue_policy: { type: { map: 'uint64', value: { message: queuePolicy } } },
};

const instanceGroup: Schema = {
  name: str,
  kind: { type: { enum: ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL'] } },
  count: i32,
  rate_limiter: { type: 'any' },
  gpus: { type: 'int32', repeated: true },
  secondary_devices: { type: 'any', repeated: true },
  profile: { type: 'string', repeated: true },
  passive: bool,
  host_policy: str,
};

const warmupInput: Schema = {
  data_type: dataType,
  dims,
  zero_data: { type: 'bool', oneof: 'input_data_type' },
  random_data: { type: 'bool', oneof: 'input_data_type' },
  input_data_file: { type: 'string', oneof: 'input_data_type' },
};

const modelWarmup: Schema = {
  name: str,
  batch_size: u32,
  inputs: { type: { map: 'string', value: { message: warmupInput } } },
  count: u32,
};

export const MODEL_CONFIG: Schema = {
  name: str,
  platform: str,
  backend: str,
  runtime: str,
  version_policy: msg(versionPolicy),
  max_batch_size: i32,
  input: { type: { message: modelInput }, repeated: true },
  output: { type: { message: modelOutput }, repeated: true },
  batch_input: { type: { message: batchInput }, repeated: true },
  batch_output: { type: { message: batchOutput }, repeated: true },
  optimization: { type: 'any' },
  dynamic_batching: msg(dynamicBatching, { oneof: 'scheduling_choice' }),
  sequence_batching: { type: 'any', oneof: 'scheduling_choice' },
  ensemble_scheduling: { type: 'any', oneof: 'scheduling_choice' },
  instance_group: { type: { message: instanceGroup }, repeated: true },
  default_model_filename: str,
  cc_model_filenames: strMap,
  metric_tags: strMap,
  parameters: { type: { map: 'string', value: { message: { string_value: str } } } },
  model_warmup: { type: { message: modelWarmup }, repeated: true },
  model_operations: { type: 'any' },
  model_transaction_policy: msg({ decoupled: bool }),
  model_repository_agents: { type: 'any' },
  response_cache: msg({ enable: bool }),
  model_metrics: { type: 'any' },
};
