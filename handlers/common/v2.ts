/**
 * Open Inference Protocol v2 requests as the built-in handlers that set `acceptsV2Requests` see them: `data` is
 * `{id, parameters, inputs: [{name, datatype, shape, parameters, data}], outputs}` with BYTES elements as Buffers.
 * These handlers take one BYTES input (images or texts, one per element) and answer typed output tensors.
 */
import type { RequestInput } from '../../src/handler/contract.ts';

export interface V2Input {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown;
}

export interface V2Request {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: V2Input[];
}

export interface V2Output {
  name: string;
  datatype: 'BYTES' | 'FP32' | 'INT32' | 'INT64' | 'UINT8';
  shape: number[];
  data: unknown[];
}

/** A bad v2 request (answered 400). */
export class V2Error extends Error {}

/** The request's v2 form, or undefined when it is an ordinary request. */
export function v2Request(req: RequestInput): V2Request | undefined {
  const d = req.data as Partial<V2Request> | null;
  if (d === null || typeof d !== 'object' || Array.isArray(d) || d instanceof Uint8Array || !Array.isArray(d.inputs)) {
    return undefined;
  }
  if (!d.inputs.every((i) => i !== null && typeof i === 'object' && typeof (i as V2Input).datatype === 'string')) {
    return undefined;
  }
  return d as V2Request;
}

/** The elements of the request's single BYTES input, as bytes. */
export function v2Elements(req: V2Request, what: string): Uint8Array[] {
  const bytes = req.inputs.filter((i) => i.datatype === 'BYTES');
  if (bytes.length !== 1) {
    const got = req.inputs.map((i) => `"${i.name}" ${i.datatype}`).join(', ') || 'none';
    throw new V2Error(`send one BYTES input holding ${what}, one per element (got ${got})`);
  }
  const data = bytes[0].data;
  const list = Array.isArray(data) ? data : [];
  if (list.length === 0) throw new V2Error(`input "${bytes[0].name}" holds no ${what}`);
  return list.map((e) =>
    e instanceof Uint8Array ? e : typeof e === 'string' ? Buffer.from(e, 'utf8') : Buffer.from(String(e), 'utf8'),
  );
}

const BASE64 = /^[A-Za-z0-9+/=_\-\s]+$/;

/**
 * An image element: raw bytes (the binary extension), or base64 text (JSON, where BYTES elements are strings),
 * a `data:` URL included.
 */
export function imageElement(e: Uint8Array): Uint8Array {
  const head = Buffer.from(e.buffer, e.byteOffset, Math.min(e.byteLength, 64)).toString('latin1');
  if (head.startsWith('data:')) {
    const text = Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('latin1');
    return Buffer.from(text.slice(text.indexOf(',') + 1), 'base64');
  }
  if (!BASE64.test(head)) return e;
  const text = Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('latin1');
  return BASE64.test(text) ? Buffer.from(text, 'base64') : e;
}

/** A request's per-request settings: the v2 request's parameters, else the query string. */
export function requestParameters(req: RequestInput): Record<string, unknown> {
  return v2Request(req)?.parameters ?? req.query;
}
