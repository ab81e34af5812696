/** Wire requests (as they arrive in a worker) to the RequestInput a handler sees. */
import type { RequestInput } from '../handler/contract.ts';
import type { WireRequest, WireValue } from '../pool/messages.ts';

/**
 * Bytes reach the handler as an ordinary Buffer. Request bytes arrive in shared memory (so a batch can be resent
 * if a worker dies); onnxruntime refuses tensors over shared memory, so they are copied once here, in the
 * worker, where a handler may build a tensor straight on them.
 */
function asBuffer(v: WireValue): unknown {
  if (!(v instanceof Uint8Array)) return v;
  if (v.buffer instanceof SharedArrayBuffer) return Buffer.from(v);
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function toRequestInput(w: WireRequest): RequestInput {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(w.fields)) fields[k] = asBuffer(v);
  const data = asBuffer(w.data);
  return {
    requestId: w.requestId,
    data,
    body: w.body === w.data ? data : asBuffer(w.body),
    fields,
    headers: w.headers,
    query: w.query,
    contentType: w.contentType,
  };
}
