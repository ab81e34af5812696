/**
 * object_detector's thresholds: defaults, then the model-config YAML (top level, or under `object_detector:` or
 * `handler:`), then per request the query parameters (or a v2 request's parameters) of the same names.
 */

export interface DetectOptions {
  /** Minimum score of a detection (TorchServe's object_detector: 0.5). */
  threshold: number;
  /** Boxes of one class overlapping a better one by more than this IoU are dropped. */
  iou_threshold: number;
  /** Most detections per image, best first. */
  max_detections: number;
}

export const DEFAULT_OPTIONS: DetectOptions = { threshold: 0.5, iou_threshold: 0.45, max_detections: 100 };

const KEYS = Object.keys(DEFAULT_OPTIONS) as (keyof DetectOptions)[];

/** A bad value, with a message that names the key and what it takes. */
export class OptionError extends Error {}

function parse(key: keyof DetectOptions, raw: unknown, where: string): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (key === 'max_detections') {
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 100_000) return n;
    throw new OptionError(`${where}max_detections must be an integer from 1 to 100000, got ${JSON.stringify(raw)}`);
  }
  if (typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= 1) return n;
  throw new OptionError(`${where}${key} must be a number from 0 to 1, got ${JSON.stringify(raw)}`);
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The model's defaults from its YAML; a bad value refuses the load. */
export function modelOptions(cfg: Record<string, unknown>): DetectOptions {
  const merged = { ...record(cfg.handler), ...record(cfg.object_detector), ...cfg };
  const out = { ...DEFAULT_OPTIONS };
  for (const key of KEYS) {
    if (merged[key] !== undefined) out[key] = parse(key, merged[key], 'object_detector: model config ');
  }
  return out;
}

/** One request's options: `values` (query or v2 parameters) over the model's. */
export function requestOptions(base: DetectOptions, values: Record<string, unknown> | undefined): DetectOptions {
  if (!values) return base;
  let out = base;
  for (const key of KEYS) {
    if (values[key] === undefined) continue;
    if (out === base) out = { ...base };
    out[key] = parse(key, values[key], '');
  }
  return out;
}
