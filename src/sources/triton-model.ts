/**
 * A model served from its Triton configuration: the settings the config sets before anything loads, and the
 * completion and check against the ONNX model once a worker has opened it (then the config is final and is what
 * `GET /v2/models/{m}/config` answers).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ServeError } from '../errors.ts';
import type { ModelSettings } from '../registry/model-version.ts';
import type { ModelIO } from '../pool/messages.ts';
import { checkAgainstModel, completeConfig, type QueuePolicy, type TritonConfig } from './triton-config.ts';

/** Triton's default max_batch_size when auto-complete sets it (`--backend-config=default-max-batch-size`). */
export const DEFAULT_MAX_BATCH_SIZE = 4;

export class TritonModel {
  /** The configuration: as given until the model loads, then completed from the model. */
  config: TritonConfig;

  private readonly labelLists = new Map<string, string[]>();

  constructor(
    readonly given: TritonConfig,
    /** Names the model in messages (`repo/resnet/config.pbtxt`). */
    readonly source: string,
    readonly strict: boolean,
    /** The model's folder, where `label_filename` files are. */
    readonly modelDir?: string,
  ) {
    this.config = given;
  }

  /** The labels of an output (its `label_filename`, one label a line), read at load. */
  labels(output: string): readonly string[] | undefined {
    return this.labelLists.get(output);
  }

  private readLabels(): void {
    for (const [i, o] of (this.config.output ?? []).entries()) {
      if (!o.label_filename) continue;
      const file = path.resolve(this.modelDir ?? '.', o.label_filename);
      const rel = path.relative(this.modelDir ?? '.', file);
      if (!this.modelDir || rel.startsWith('..') || path.isAbsolute(rel)) {
        throw new ServeError('InvalidArchive', `${this.source}: output[${i}].label_filename "${o.label_filename}" must name a file in the model's folder`);
      }
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        throw new ServeError('InvalidArchive', `${this.source}: output[${i}].label_filename "${o.label_filename}" is missing from the model's folder`);
      }
      this.labelLists.set(o.name, text.split(/\r?\n/).filter((l, k, all) => l !== '' || k < all.length - 1));
    }
  }

  /** Worker counts, batch size and delay, queue size and timeout, device: what the config says before load. */
  settings(): Partial<ModelSettings> {
    const c = this.given;
    const out: Partial<ModelSettings> = {};
    const groups = c.instance_group ?? [];
    if (groups.length > 0) {
      const count = groups.reduce((n, g) => n + Math.max(1, g.count ?? 1) * Math.max(1, g.kind === 'KIND_GPU' ? (g.gpus?.length ?? 1) : 1), 0);
      out.minWorkers = count;
      out.maxWorkers = count;
      const gpu = groups.find((g) => g.kind === 'KIND_GPU');
      out.device = gpu ? `cuda:${gpu.gpus?.[0] ?? 0}` : 'cpu';
    }
    Object.assign(out, this.batchSettings(c));
    return out;
  }

  private batchSettings(c: TritonConfig): Partial<ModelSettings> {
    const out: Partial<ModelSettings> = {};
    const mbs = c.max_batch_size;
    const db = c.dynamic_batching;
    if (mbs !== undefined) out.batchSize = db && mbs > 0 ? mbs : 1;
    if (db) {
      out.maxBatchDelay = Math.ceil((db.max_queue_delay_microseconds ?? 0) / 1000);
      const q = db.default_queue_policy;
      if (q?.max_queue_size) out.jobQueueSize = q.max_queue_size;
      if (q?.default_timeout_microseconds) out.queueTimeout = q.default_timeout_microseconds / 1000;
    }
    return out;
  }

  /** The default queue policy (REJECT with no timeout when the config has none). */
  get queuePolicy(): QueuePolicy {
    return this.config.dynamic_batching?.default_queue_policy ?? {};
  }

  /**
   * Completes the config from the model and checks it (throws a 400-kind error naming the field); returns the
   * settings that only the model could decide (max_batch_size left to auto-complete).
   */
  loaded(io: ModelIO): Partial<ModelSettings> {
    let cfg = completeConfig(this.given, io, DEFAULT_MAX_BATCH_SIZE, this.strict);
    checkAgainstModel(cfg, io, this.source);
    // Triton: a max_batch_size set by auto-complete turns on the dynamic batcher when no scheduler is configured.
    if (this.given.max_batch_size === undefined && (cfg.max_batch_size ?? 0) > 1 && !cfg.dynamic_batching) {
      cfg = { ...cfg, dynamic_batching: {} };
    }
    this.config = cfg;
    this.readLabels();
    return this.given.max_batch_size === undefined ? this.batchSettings(cfg) : {};
  }
}
