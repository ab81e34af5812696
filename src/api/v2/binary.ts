/**
 * The binary tensor data extension's framing: `Inference-Header-Content-Length` splits a body into its JSON
 * header and the raw tensor bytes after it; `0` means a raw request whose whole body is the one input's data
 * (Triton's rule: one input, batch 1, at most one variable dimension, a BYTES input is one element, and every
 * output comes back binary).
 */
import { ServeError } from '../../errors.ts';
import type { ModelIO } from '../../pool/messages.ts';
import { fmtShape, packBytes } from '../../dataplane/codec.ts';
import { datatypeOfOrt } from '../../dataplane/datatypes.ts';
import type { ParsedInfer } from '../../dataplane/request.ts';
import { checkBinary } from '../../dataplane/request.ts';
import { v2Shape } from '../../dataplane/validate.ts';

export const HEADER_LENGTH = 'inference-header-content-length';

const bad = (message: string) => new ServeError('BadRequest', message);

/** The JSON header's length, from the request header; undefined for a JSON-only request. */
export function headerLength(value: string | string[] | undefined, bodyLength: number): number | undefined {
  if (value === undefined) return undefined;
  const v = Array.isArray(value) ? value[0] : value;
  if (!/^\d+$/.test(v.trim())) throw bad(`Inference-Header-Content-Length must be a non-negative integer, got "${v}"`);
  const n = Number(v.trim());
  if (n > bodyLength) throw bad(`Inference-Header-Content-Length is ${n} but the body has only ${bodyLength} bytes`);
  return n;
}

/** A raw binary request (Inference-Header-Content-Length: 0) as a parsed request, its shape deduced from the model. */
export function rawRequest(body: Uint8Array, io: ModelIO | null, model: string): ParsedInfer {
  if (!io) throw bad(`model "${model}" reports no inputs, so a raw binary request (Inference-Header-Content-Length: 0) cannot be deduced`);
  if (io.inputs.length !== 1) {
    throw bad(`a raw binary request (Inference-Header-Content-Length: 0) needs a model with 1 input; model "${model}" has ${io.inputs.length}`);
  }
  const info = io.inputs[0];
  const dt = datatypeOfOrt(info.type);
  const label = `raw input "${info.name}"`;
  if (!dt) throw bad(`${label} of model "${model}" is of type ${info.type || 'non-tensor'}, which v2 requests cannot carry`);
  const model0 = v2Shape(info);
  // Batch 1: a variable leading dimension is 1.
  const shape = model0.map((d, i) => (i === 0 && d === -1 ? 1 : d));
  let data: Uint8Array;
  if (dt.size === 0) {
    const dims = shape.map((d) => (d === -1 ? 1 : d));
    if (dims.some((d) => d !== 1)) {
      throw bad(`${label}: for a BYTES raw input the model must take one element, but its shape is ${fmtShape(model0)}`);
    }
    shape.splice(0, shape.length, ...dims);
    data = packBytes([body]); // the body is the one element
  } else {
    const variable = shape.filter((d) => d === -1).length;
    if (variable > 1) {
      throw bad(`${label}: the shape can not be deduced because ${fmtShape(model0)} has more than one variable-sized dimension besides the batch`);
    }
    const fixed = shape.reduce((a, d) => (d === -1 ? a : a * d), 1) * dt.size;
    if (variable === 1) {
      if (fixed === 0 || body.byteLength % fixed !== 0) {
        throw bad(`${label}: ${body.byteLength} bytes is not a whole number of ${fmtShape(model0)} ${dt.datatype} rows of ${fixed} bytes`);
      }
      shape[shape.indexOf(-1)] = body.byteLength / fixed;
    }
    data = body;
    checkBinary(data, shape, dt, label);
    if (dt.datatype === 'BOOL') data = Uint8Array.from(data, (b) => (b ? 1 : 0));
  }
  return {
    inputs: [{ name: info.name, datatype: dt.datatype, shape, dt, data }],
    outputs: null,
    binaryOutputs: true,
  };
}

/** The body of a response with binary outputs: the JSON header, then each binary tensor in order. */
export function frame(json: string, blobs: Uint8Array[]): { body: Buffer; headerLength: number } {
  const head = Buffer.from(json, 'utf8');
  return { body: Buffer.concat([head, ...blobs]), headerLength: head.byteLength };
}
