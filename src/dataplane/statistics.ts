/**
 * Triton's statistics extension (`GET /v2/models[/{m}[/versions/{v}]]/stats`; gRPC ModelStatistics has the same
 * fields): per ready model version, cumulative counts and nanoseconds from `ModelVersion.stats`, which every
 * protocol records into.
 */
import { ServeError } from '../errors.ts';
import type { ModelVersion } from '../registry/model-version.ts';
import type { Registry } from '../registry/registry.ts';

function versionStats(mv: ModelVersion): Record<string, unknown> {
  const s = mv.stats;
  return {
    name: mv.name,
    version: mv.version,
    last_inference: s.lastInference,
    inference_count: s.inferenceCount,
    execution_count: s.executionCount,
    inference_stats: {
      success: { ...s.success },
      fail: { ...s.fail },
      queue: { ...s.queue },
      compute_input: { ...s.computeInput },
      compute_infer: { ...s.computeInfer },
      compute_output: { ...s.computeOutput },
      cache_hit: { count: 0, ns: 0 },
      cache_miss: { count: 0, ns: 0 },
    },
    response_stats: {},
    batch_stats: [...s.batches.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([batch_size, b]) => ({
        batch_size,
        compute_input: { ...b.compute_input },
        compute_infer: { ...b.compute_infer },
        compute_output: { ...b.compute_output },
      })),
    memory_usage: [],
  };
}

const byVersion = (a: ModelVersion, b: ModelVersion) =>
  a.name.localeCompare(b.name) || Number(a.version) - Number(b.version) || a.version.localeCompare(b.version);

/**
 * Every ready version (no name), every ready version of `name`, or that one version. As Triton: a model with no
 * ready version, or a version that is not ready, is a 400 naming it.
 */
export function modelStatistics(registry: Registry, name?: string, version?: string): { model_stats: Array<Record<string, unknown>> } {
  if (name === undefined || name === '') {
    return { model_stats: registry.all().filter((mv) => mv.state === 'READY').sort(byVersion).map(versionStats) };
  }
  let versions: ModelVersion[];
  try {
    versions = registry.versionsOf(name).filter((mv) => mv.state === 'READY');
  } catch {
    versions = [];
  }
  if (versions.length === 0) throw new ServeError('BadRequest', `requested model '${name}' is not available`);
  if (version !== undefined && version !== '' && version !== '-1') {
    const mv = versions.find((v) => v.version === version);
    if (!mv) throw new ServeError('BadRequest', `requested model version is not available for model '${name}'`);
    versions = [mv];
  }
  return { model_stats: versions.sort(byVersion).map(versionStats) };
}
