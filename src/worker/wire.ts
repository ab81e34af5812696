/** Wire requests (as they arrive in a worker) to the RequestInput a handler sees. */
import type { RequestInput } from '../handler/contract.ts';
import type { WireRequest, WireValue } from '../pool/messages.ts';

function asBuffer(v: WireValue): unknown {
  return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
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
