/**
 * A model version from what a source prepared: its settings (config defaults < config.properties `models` <
 * the source's own YAML or config.pbtxt < API parameters) and the hooks the registry wires in.
 */
import type { PreparedVersion, SourceKind } from '../sources/source.ts';
import { ModelVersion, type ModelSettings } from './model-version.ts';
import type { RegisterRequest, RegistryOptions } from './registry.ts';

export function newVersion(opts: RegistryOptions, p: PreparedVersion, kind: SourceKind, req: RegisterRequest): ModelVersion {
  const { name, version } = p;
  const settings = settingsFor(opts, name, version, p.settings, req);
  return new ModelVersion({
    name,
    version,
    url: req.url,
    dir: p.dir,
    ownsDir: p.ownsDir,
    sourceKind: kind,
    triton: p.triton,
    manifest: p.manifest,
    handler: req.handler ?? p.manifest.model.handler,
    modelConfig: p.modelConfig,
    settings,
    loadedAtStartup: req.loadedAtStartup ?? false,
    autoscale: opts.autoscale,
    restart: opts.restart,
    maxHeapMb: opts.maxHeapMb,
    onMetric: opts.onMetric && ((m) => opts.onMetric!(name, version, m)),
    onWorkerProblem: opts.onWorkerProblem && ((msg) => opts.onWorkerProblem!(name, version, msg)),
    onQueueFull: opts.onQueueFull && (() => opts.onQueueFull!(name, version)),
  });
}

function settingsFor(opts: RegistryOptions, name: string, version: string, own: Partial<ModelSettings>, req: RegisterRequest): ModelSettings {
  const d = opts.defaults;
  const s = {
    ...d,
    device: d.device ?? 'cpu',
    ...opts.perModel?.(name, version),
    ...own,
    ...req.overrides,
  } as ModelSettings & { intraOpThreads?: number };
  if (req.initialWorkers !== undefined) {
    s.minWorkers = req.initialWorkers;
    s.maxWorkers = Math.max(req.initialWorkers, s.maxWorkers);
  }
  if (s.maxWorkers < s.minWorkers) s.maxWorkers = s.minWorkers;
  // A model that may grow gets the budget of its largest size, so growing never oversubscribes the cores.
  s.intraOpThreads = s.intraOpThreads || opts.threadsFor(Math.max(1, s.maxWorkers));
  return s;
}
