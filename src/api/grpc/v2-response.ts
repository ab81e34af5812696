/**
 * The data plane's answer → `ModelInferResponse`. As Triton does, every output goes in `raw_output_contents`
 * (in output order: little-endian elements, BOOL one byte each, BYTES 4-byte length-prefixed), which
 * tritonclient's and KServe's `as_numpy` read. A handler that takes v2 requests may answer a JSON object with
 * v2 `outputs` (data as JSON); those are encoded the same way.
 */
import type { InferAnswer } from '../../dataplane/infer.ts';
import { datatypeOfOrt } from '../../dataplane/datatypes.ts';
import { parseInfer } from '../../dataplane/request.ts';
import { ServeError } from '../../errors.ts';
import type { WireTensor } from '../../pool/messages.ts';

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters: Record<string, never>;
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, never>;
  outputs: InferOutputTensor[];
  raw_output_contents: Buffer[];
}

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function fromTensors(tensors: WireTensor[]): Pick<ModelInferResponse, 'outputs' | 'raw_output_contents'> {
  const outputs: InferOutputTensor[] = [];
  const raw: Buffer[] = [];
  for (const t of tensors) {
    const dt = datatypeOfOrt(t.type);
    if (!dt) throw new ServeError('InternalServerError', `output "${t.name}" is of type ${t.type}, which v2 responses cannot carry`);
    outputs.push({ name: t.name, datatype: dt.datatype, shape: t.shape, parameters: {} });
    raw.push(asBuffer(t.data));
  }
  return { outputs, raw_output_contents: raw };
}

/** A handler's own answer: a JSON object whose `outputs` are v2 tensors with JSON data. */
function fromHandler(answer: InferAnswer & { handlerResult: object }): Pick<ModelInferResponse, 'outputs' | 'raw_output_contents'> {
  const r = answer.handlerResult;
  const fail = (why: string) =>
    new ServeError('InternalServerError', `the handler of model "${answer.head.model_name}" answered a v2 request with ${why}, which gRPC cannot carry: answer a JSON object with v2 "outputs"`);
  if (r.encoding !== 'json') throw fail(r.encoding === 'bytes' ? 'raw bytes' : 'text');
  let body: { outputs?: unknown };
  try {
    body = JSON.parse(r.body as string) as { outputs?: unknown };
  } catch {
    throw fail('invalid JSON');
  }
  if (body === null || typeof body !== 'object' || !Array.isArray(body.outputs)) throw fail('no "outputs" array');
  let parsed;
  try {
    parsed = parseInfer({ inputs: body.outputs }, new Uint8Array(0));
  } catch (err) {
    throw fail(`outputs that are not v2 tensors (${(err as Error).message.replace(/^input/, 'output')})`);
  }
  return {
    outputs: parsed.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: {} })),
    raw_output_contents: parsed.inputs.map((t) => asBuffer(t.data)),
  };
}

export function encodeModelInfer(answer: InferAnswer, requestId: string | undefined): ModelInferResponse {
  const body = answer.tensors ? fromTensors(answer.tensors) : fromHandler(answer as InferAnswer & { handlerResult: object });
  return {
    model_name: answer.head.model_name,
    model_version: answer.head.model_version,
    id: requestId ?? '',
    parameters: {},
    ...body,
  };
}
