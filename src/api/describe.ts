/** TorchServe's describe object for one model version, plus our state and job queue status. */
import type { ModelVersion } from '../registry/model-version.ts';
import type { Registry } from '../registry/registry.ts';

export function describeVersion(registry: Registry, mv: ModelVersion): Record<string, unknown> {
  const s = mv.settings;
  return {
    modelName: mv.name,
    modelVersion: mv.version,
    modelUrl: mv.url,
    runtime: mv.manifest.runtime,
    minWorkers: s.minWorkers,
    maxWorkers: s.maxWorkers,
    batchSize: s.batchSize,
    maxBatchDelay: s.maxBatchDelay,
    responseTimeout: s.responseTimeout,
    loadedAtStartup: mv.loadedAtStartup,
    isDefault: registry.defaultVersionOf(mv.name) === mv.version,
    handler: mv.handler,
    deviceType: s.device.startsWith('cuda') ? 'gpu' : 'cpu',
    intraOpThreads: s.intraOpThreads,
    state: mv.state,
    ...(mv.failure ? { failureReason: mv.failure } : {}),
    workers: mv.workers().map((w) => ({
      id: String(9000 + w.id),
      startTime: w.startTime,
      status: w.status === 'READY' ? (mv.state === 'UNLOADING' ? 'UNLOADING' : 'READY') : 'FAILED',
      memoryUsage: 0,
      pid: process.pid,
      gpu: s.device.startsWith('cuda'),
      gpuUsage: 'N/A',
    })),
    jobQueueStatus: { remainingCapacity: mv.batcher.remainingCapacity, pendingRequests: mv.batcher.pending },
  };
}
