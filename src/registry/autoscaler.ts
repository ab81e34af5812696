/**
 * Scales a model version's workers between minWorkers and maxWorkers by itself: one more worker while requests
 * keep waiting in its queue, one fewer after it has been idle for a while. TorchServe only scales on request.
 */
import type { ModelVersion } from './model-version.ts';

export interface AutoscaleOptions {
  /** Add a worker after requests have waited this long without a break (ms). */
  upAfterMs: number;
  /** Remove a worker after the model has had nothing queued or running this long (ms). */
  downAfterMs: number;
}

export const DEFAULT_AUTOSCALE: AutoscaleOptions = { upAfterMs: 500, downAfterMs: 10_000 };

export function startAutoscaler(mv: ModelVersion, opts: AutoscaleOptions = DEFAULT_AUTOSCALE): { stop(): void } {
  const tick = Math.max(10, Math.min(opts.upAfterMs, opts.downAfterMs) / 4);
  let queuedSince: number | undefined;
  let idleSince: number | undefined = Date.now();
  const timer = setInterval(() => {
    const { minWorkers, maxWorkers } = mv.settings;
    if (mv.state !== 'READY' || maxWorkers <= minWorkers) return;
    const now = Date.now();
    const wanted = mv.workersWanted;
    const waiting = mv.batcher.pending > 0;
    const busy = waiting || mv.batcher.active > 0;
    queuedSince = waiting ? (queuedSince ?? now) : undefined;
    idleSince = busy ? undefined : (idleSince ?? now);
    // Only grow once the workers already asked for are serving: a worker still loading adds no capacity yet.
    if (queuedSince !== undefined && now - queuedSince >= opts.upAfterMs && wanted < maxWorkers && mv.readyWorkers >= wanted) {
      mv.resize(wanted + 1);
      queuedSince = now;
    } else if (idleSince !== undefined && now - idleSince >= opts.downAfterMs && wanted > minWorkers) {
      mv.resize(wanted - 1);
      idleSince = now;
    } else if (wanted < minWorkers) {
      mv.resize(minWorkers);
    }
  }, tick);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
