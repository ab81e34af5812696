/**
 * The v2 inference response from the worker's output tensors: JSON data, or binary data after the JSON header
 * for the outputs that asked for it (`binary_data`, or `binary_data_output` for all, or a raw request).
 */
import type { ResponseHead } from '../../dataplane/infer.ts';
import { ServeError } from '../../errors.ts';
import type { WireTensor } from '../../pool/messages.ts';
import { frame } from './binary.ts';
import { jsonDataText } from '../../dataplane/codec.ts';
import { datatypeOfOrt } from '../../dataplane/datatypes.ts';
import type { ParsedInfer } from '../../dataplane/request.ts';

export interface EncodedResponse {
  body: string | Buffer;
  /** Set when some output is binary: the JSON header's length, for Inference-Header-Content-Length. */
  headerLength?: number;
}

export function encodeResponse(head: ResponseHead, tensors: WireTensor[], req: ParsedInfer): EncodedResponse {
  const asked = new Map((req.outputs ?? []).map((o) => [o.name, o]));
  const blobs: Uint8Array[] = [];
  const outputs = tensors.map((t) => {
    const dt = datatypeOfOrt(t.type);
    if (!dt) throw new ServeError('InternalServerError', `output "${t.name}" is of type ${t.type}, which v2 responses cannot carry`);
    const start = `{"name":${JSON.stringify(t.name)},"datatype":"${dt.datatype}","shape":${JSON.stringify(t.shape)}`;
    if (asked.get(t.name)?.binary ?? req.binaryOutputs) {
      blobs.push(t.data);
      return `${start},"parameters":{"binary_data_size":${t.data.byteLength}}}`;
    }
    return `${start},"data":${jsonDataText(dt, t.data)}}`;
  });
  const json = `${JSON.stringify(head).slice(0, -1)},"outputs":[${outputs.join(',')}]}`;
  if (blobs.length === 0) return { body: json };
  const { body, headerLength } = frame(json, blobs);
  return { body, headerLength };
}
