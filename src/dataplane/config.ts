/**
 * Triton's model configuration extension (`GET /v2/models/{m}[/versions/{v}]/config`; gRPC ModelConfig): the
 * protobuf JSON mapping of `inference.ModelConfig` as Triton prints it (proto field names, every primitive with its
 * default, 64-bit integers as strings except the ones Triton prints as numbers). Repository and bare ONNX models
 * answer their config.pbtxt as completed from the model; archives answer a config derived from the model and the
 * version's settings, so perf_analyzer and Triton's clients work with either.
 */
import type { ModelVersion } from '../registry/model-version.ts';
import { toProtoJson } from '../sources/pbschema.ts';
import { batchable, completeConfig, type TritonConfig } from '../sources/triton-config.ts';
import { MODEL_CONFIG } from '../sources/triton-schema.ts';

/** The config of an archive: batching as its settings say, tensors from the model once loaded. */
function archiveConfig(mv: ModelVersion): TritonConfig {
  const io = mv.io;
  const batch = io !== null && batchable(io);
  const cfg: TritonConfig = {
    max_batch_size: batch ? Math.max(1, mv.settings.batchSize) : 0,
    ...(batch && mv.settings.batchSize > 1 && { dynamic_batching: { max_queue_delay_microseconds: mv.settings.maxBatchDelay * 1000 } }),
  };
  return io ? completeConfig(cfg, io, mv.settings.batchSize, false) : cfg;
}

/** Fills what Triton fills when it normalises a config: policy, instance group, file name, platform. */
function normalised(mv: ModelVersion, cfg: TritonConfig): TritonConfig {
  const gpu = mv.settings.device.startsWith('cuda');
  const groups = cfg.instance_group?.length
    ? cfg.instance_group.map((g, i) => ({ ...g, name: g.name || `${mv.name}_${i}`, kind: g.kind && g.kind !== 'KIND_AUTO' ? g.kind : gpu ? 'KIND_GPU' : 'KIND_CPU', count: g.count || 1 }))
    : [{ name: `${mv.name}_0`, kind: gpu ? 'KIND_GPU' : 'KIND_CPU', count: Math.max(1, mv.settings.minWorkers), gpus: gpu ? [Number(mv.settings.device.split(':')[1] ?? 0)] : [] }];
  return {
    ...cfg,
    name: mv.name,
    platform: cfg.platform || 'onnxruntime_onnx',
    backend: cfg.backend || 'onnxruntime',
    version_policy: cfg.version_policy ?? { latest: { num_versions: 1 } },
    instance_group: groups,
    default_model_filename: cfg.default_model_filename || 'model.onnx',
  };
}

export function modelConfigJson(mv: ModelVersion): Record<string, unknown> {
  const cfg = mv.triton ? mv.triton.config : archiveConfig(mv);
  return toProtoJson(normalised(mv, cfg) as Record<string, unknown>, MODEL_CONFIG);
}
