/**
 * The public handler contract (DESIGN.md "Handler contract"). Built-in handlers in `handlers/` and handler
 * files inside archives are written against this file only. Type-only: nothing here runs.
 */
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';

/** One request as the handler sees it. */
export interface RequestInput {
  /** The multipart field or file named `data`, else the whole body: parsed JSON, a string for text, else bytes. */
  data: unknown;
  /** The whole body, decoded like `data` (for multipart: the `data` part, or null when it has none). */
  body: unknown;
  /** Every multipart/form field by name (files as bytes, text fields as strings). */
  fields: Record<string, unknown>;
  /** Request headers, lower-cased names. */
  headers: Record<string, string>;
  /** Query-string parameters. */
  query: Record<string, string>;
  /** The request's content type (of the `data` part for multipart), '' when none was given. */
  contentType: string;
  /** The id of this request, as sent back in `x-request-id`. */
  requestId: string;
}

export type Feeds = Record<string, OrtTensor>;
export type Outputs = Record<string, OrtTensor>;

export interface HandlerLogger {
  debug(msg: string, extra?: Record<string, unknown>): void;
  info(msg: string, extra?: Record<string, unknown>): void;
  warn(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
}

export interface HandlerMetrics {
  /** Adds `value` to a counter named `name` (created on first use). */
  addCounter(name: string, value?: number, labels?: Record<string, string>): void;
  /** Sets a gauge. */
  setGauge(name: string, value: number, labels?: Record<string, string>): void;
  /** Records one observation (e.g. a time in ms) in a histogram. */
  observe(name: string, value: number, labels?: Record<string, string>): void;
}

export interface SessionOptions {
  /** Overrides the server's intra-op thread budget for this session. */
  intraOpNumThreads?: number;
  executionProviders?: InferenceSession.SessionOptions['executionProviders'];
  graphOptimizationLevel?: InferenceSession.SessionOptions['graphOptimizationLevel'];
  /** Overrides the archive's `cpuMemArena` (default false: activations are freed after each run). */
  enableCpuMemArena?: boolean;
}

/** An error a hook throws (or returns in place of one request's result) to answer with its own status. */
export interface HandlerErrorConstructor {
  new (status: number, message: string): Error & { status: number };
}

export interface HandlerContext {
  readonly modelName: string;
  readonly modelVersion: string;
  /** The extracted archive. */
  readonly modelDir: string;
  /** MAR-INF/MANIFEST.json as read. */
  readonly manifest: Manifest;
  /** The archive's model-config YAML (every key, including free ones), {} when it has none. */
  readonly modelConfig: Record<string, unknown>;
  readonly batchSize: number;
  /** This worker's id within the model version's pool (0-based). */
  readonly workerId: number;
  /** `cpu` or `cuda:N`. */
  readonly device: string;
  /** The session created from the manifest's `serializedFile`; null when the archive has none. */
  readonly session: InferenceSession | null;
  /** Creates another session from a file in the archive, with the server's thread budget. */
  createSession(file: string, options?: SessionOptions): Promise<InferenceSession>;
  /** onnxruntime-node's Tensor class (the server's copy). */
  readonly Tensor: typeof OrtTensor;
  readonly logger: HandlerLogger;
  readonly metrics: HandlerMetrics;
  /** Construct to fail a request with a status: `throw new ctx.HandlerError(400, 'no image')`. */
  readonly HandlerError: HandlerErrorConstructor;
  /** Per-request response settings for the batch being handled (index into the batch). */
  setResponseStatus(index: number, status: number): void;
  setResponseContentType(index: number, contentType: string): void;
  setResponseHeader(index: number, name: string, value: string): void;
}

export interface Handler {
  /**
   * Open Inference Protocol v2 requests skip the hooks and run the model on their tensors, unless this is true:
   * then each v2 request reaches the handler with `data` = the decoded v2 request (inputs as flat typed arrays).
   */
  acceptsV2Requests?: boolean;
  initialize?(ctx: HandlerContext): Promise<void> | void;
  preprocess?(requests: RequestInput[], ctx: HandlerContext): Promise<Feeds> | Feeds;
  inference?(feeds: Feeds, ctx: HandlerContext): Promise<Outputs> | Outputs;
  postprocess?(outputs: Outputs, ctx: HandlerContext, requests: RequestInput[]): Promise<unknown[]> | unknown[];
  handle?(requests: RequestInput[], ctx: HandlerContext): Promise<unknown[]> | unknown[];
}

/** MAR-INF/MANIFEST.json, with TorchServe's field names. */
export interface Manifest {
  createdOn: string;
  runtime: string;
  archiverVersion: string;
  model: {
    modelName: string;
    modelVersion: string;
    handler: string;
    serializedFile?: string;
    configFile?: string;
    modelFile?: string;
    requirementsFile?: string;
    extensions?: string;
  };
}
