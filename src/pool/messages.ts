/**
 * Typed messages across the thread boundary between a model version's pool and its workers.
 * Plain data only (structured-cloneable); byte payloads travel as transferred ArrayBuffers.
 */
import type { WireError } from '../errors.ts';
import type { Manifest } from '../handler/contract.ts';

/** Given to every worker of one pool as `workerData`. */
export interface WorkerInit {
  modelName: string;
  modelVersion: string;
  modelDir: string;
  manifest: Manifest;
  modelConfig: Record<string, unknown>;
  /** The manifest's handler: a built-in name, or `file.js[:Export]` inside modelDir. */
  handler: string;
  /** Absolute path of the folder holding the built-in handlers. */
  builtinDir: string;
  /** File extension of the built-in handlers beside this code (`.ts` under tsx, `.js` when built). */
  builtinExt: string;
  batchSize: number;
  device: string;
  intraOpThreads: number;
  /** BroadcastChannel on which workers report `WorkerEvent`s. */
  channel: string;
  /** Int32 counter shared by the pool's workers to draw 0-based worker ids. */
  idCounter: SharedArrayBuffer;
}

/** A value of a request field as it crosses the boundary. */
export type WireValue = Uint8Array | string | null | boolean | number | object;

export interface WireRequest {
  requestId: string;
  data: WireValue;
  body: WireValue;
  fields: Record<string, WireValue>;
  headers: Record<string, string>;
  query: Record<string, string>;
  contentType: string;
  /** An Open Inference Protocol v2 request: its tensors (then `data` is the request JSON without tensor data). */
  v2?: WireV2Request;
}

/** One tensor of a v2 request or response: row-major little-endian bytes in its own (transferred) buffer. */
export interface WireTensor {
  name: string;
  /** onnxruntime's element type (`float32`, `string`, `bool`, `float16`, …). */
  type: string;
  /** The v2 datatype name (`FP32`, `BYTES`, …); set on request tensors. */
  datatype?: string;
  shape: number[];
  /** Fixed-width elements as they lie in memory; `string` elements each as a 4-byte LE length + UTF-8 bytes. */
  data: Uint8Array;
}

export interface WireV2Request {
  inputs: WireTensor[];
  /** The outputs to fetch, in response order; null: every output of the model. */
  outputs: string[] | null;
}

export interface BatchTask {
  requests: WireRequest[];
}

export type WireResponse =
  | {
      ok: true;
      /** How `body` is to be sent: JSON (`body` is its text, written in the worker), raw bytes, or text. */
      encoding: 'json' | 'bytes' | 'text';
      body: string | Uint8Array;
      status?: number;
      contentType?: string;
      headers?: Record<string, string>;
      /** The output tensors of a v2 request run on the model directly (`body` is then the text `null`). */
      tensors?: WireTensor[];
    }
  | { ok: false; error: WireError };

export interface BatchTimings {
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
  handlerMs: number;
}

export interface BatchResult {
  workerId: number;
  responses: WireResponse[];
  timings: BatchTimings;
}

/** Reported by workers on the pool's BroadcastChannel. */
export type WorkerEvent =
  | { type: 'ready'; workerId: number; threadId: number; startTime: string; loadMs: number; io: ModelIO | null }
  | { type: 'failed'; workerId: number; threadId: number; error: WireError }
  | { type: 'metric'; workerId: number; metric: CustomMetric };

export interface CustomMetric {
  kind: 'counter' | 'gauge' | 'histogram';
  name: string;
  value: number;
  labels: Record<string, string>;
}

/** One input or output of the model's main session, as onnxruntime reports it. */
export interface TensorInfo {
  name: string;
  /** onnxruntime's element type (`float32`, `int64`, `string`, `bool`, `float16`, …); '' for non-tensors. */
  type: string;
  /** Dimensions; a string or -1 for a dynamic one; [] when unknown. */
  shape: Array<number | string>;
}

export interface ModelIO {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** The handler takes v2 requests itself (`acceptsV2Requests = true`): the API does not check them against the model. */
  acceptsV2Requests?: boolean;
}
