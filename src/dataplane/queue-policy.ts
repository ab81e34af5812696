/**
 * Triton's queue policy for one v2 request: the model's `default_timeout_microseconds` (`queueTimeout`, ms), which
 * the request's `timeout` parameter (µs) may shorten when `allow_timeout_override` is set, and `timeout_action`:
 * REJECT answers 503 "Request timeout expired"; DELAY keeps the request, behind the ones still in time. Combined
 * with the transport's own bounds (a gRPC deadline, a client that went away).
 */
import { performance } from 'node:perf_hooks';
import type { SubmitOptions } from '../batching/batcher.ts';
import { ServeError } from '../errors.ts';
import type { ModelVersion } from '../registry/model-version.ts';

/** The request's `timeout` parameter in µs, checked (a bad value is a 400 naming it). */
function requestTimeoutUs(parameters: Record<string, unknown> | undefined): number | undefined {
  const t = parameters?.timeout;
  if (t === undefined) return undefined;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) {
    throw new ServeError('BadRequest', `the request parameter "timeout" must be a whole number of microseconds ≥ 0, got ${JSON.stringify(t)}`);
  }
  return t;
}

export function queueOptions(mv: ModelVersion, parameters: Record<string, unknown> | undefined, transport?: SubmitOptions): SubmitOptions | undefined {
  const policy = mv.triton?.queuePolicy ?? {};
  let timeoutUs = mv.settings.queueTimeout !== undefined ? Math.round(mv.settings.queueTimeout * 1000) : 0;
  const asked = requestTimeoutUs(parameters);
  // Triton: with allow_timeout_override a request may set its own timeout, never a longer one than the model's.
  if (asked && policy.allow_timeout_override && (timeoutUs === 0 || asked < timeoutUs)) timeoutUs = asked;
  if (timeoutUs === 0) return transport;
  const deadline = performance.now() + timeoutUs / 1000;
  const delay = policy.timeout_action === 'DELAY';
  const own: SubmitOptions = delay
    ? { deadline, delay: true }
    : { deadline, expired: () => new ServeError('ServiceUnavailable', 'Request timeout expired') };
  if (!transport) return own;
  // The transport's deadline (if earlier) still rejects with its own error.
  if (transport.deadline !== undefined && transport.deadline <= deadline) return { ...own, ...transport };
  return { ...transport, ...own, signal: transport.signal };
}
