/**
 * KServe v1 as KServe's own clients send it to a tensor model: `{"instances": [row, …]}` for a model with one
 * input is one tensor, the rows stacked along a new first dimension, run once through the v2 data plane (checked
 * against the model, queued, batched, counted); the answer is `{"predictions": [row, …]}`, the output's rows (or,
 * for a model with several outputs, one `{name: row}` object per row). Used for models served by the `tensor`
 * handler (repository and bare ONNX models, or archives with that handler) whose instances are arrays or numbers;
 * other instances go to the handler one by one as before.
 */
import type { Context } from 'koa';
import { inferV2, type CallInfo, type DataPlaneDeps } from '../../dataplane/infer.ts';
import { parseInfer } from '../../dataplane/request.ts';
import { datatypeOfOrt, typedView } from '../../dataplane/datatypes.ts';
import { jsonDataText, unpackBytes } from '../../dataplane/codec.ts';
import { ServeError } from '../../errors.ts';
import type { WireTensor } from '../../pool/messages.ts';
import type { ModelVersion } from '../../registry/model-version.ts';

/** Does this call go to the model as one stacked tensor? */
export function takesStackedRows(mv: ModelVersion, instances: unknown[]): boolean {
  const io = mv.io;
  return (
    mv.handler === 'tensor' &&
    io !== null &&
    !io.acceptsV2Requests &&
    io.inputs.length === 1 &&
    instances.length > 0 &&
    instances.every((i) => Array.isArray(i) || typeof i === 'number' || typeof i === 'string' || typeof i === 'boolean')
  );
}

function shapeOf(v: unknown): number[] {
  const shape: number[] = [];
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/** Each element of an output as JSON text (64-bit integers digit for digit). */
function elementTexts(t: WireTensor): string[] {
  const dt = datatypeOfOrt(t.type);
  if (!dt) throw new ServeError('InternalServerError', `output "${t.name}" is of type ${t.type}, which JSON cannot carry`);
  if (dt.datatype === 'BYTES') return unpackBytes(t.data, t.name).map((e) => JSON.stringify(Buffer.from(e).toString('utf8')));
  if (dt.datatype === 'INT64' || dt.datatype === 'UINT64') return Array.from(typedView(dt.ort, t.data) as BigInt64Array, String);
  return (JSON.parse(jsonDataText(dt, t.data)) as unknown[]).map((v) => JSON.stringify(v));
}

/** Row `r` of dim 0 as nested JSON text. */
function rowText(texts: string[], shape: number[], r: number): string {
  const inner = shape.slice(1);
  const size = inner.reduce((a, b) => a * b, 1);
  let at = r * size;
  const build = (level: number): string => {
    if (level === inner.length) return texts[at++];
    const parts: string[] = [];
    for (let i = 0; i < inner[level]; i++) parts.push(build(level + 1));
    return `[${parts.join(',')}]`;
  };
  return build(0);
}

export async function predictStacked(ctx: Context, deps: DataPlaneDeps, mv: ModelVersion, instances: unknown[], call: CallInfo): Promise<string> {
  const input = mv.io!.inputs[0];
  const dt = datatypeOfOrt(input.type);
  if (!dt) throw new ServeError('BadRequest', `input "${input.name}" is of type ${input.type}, which KServe v1 instances cannot carry`);
  const req = parseInfer({ inputs: [{ name: input.name, datatype: dt.datatype, shape: [instances.length, ...shapeOf(instances[0])], data: instances }] }, new Uint8Array(0));
  const answer = await inferV2(deps, mv, undefined, req, call);
  ctx.state.model.batchSize = answer.batchSize;
  const tensors = answer.tensors!;
  const rows = instances.length;
  for (const t of tensors) {
    if (t.shape.length === 0 || t.shape[0] !== rows) {
      throw new ServeError('InternalServerError', `output "${t.name}" has shape [${t.shape.join(',')}]: it does not have one row per instance (${rows})`);
    }
  }
  const texts = tensors.map(elementTexts);
  const predictions: string[] = [];
  for (let r = 0; r < rows; r++) {
    if (tensors.length === 1) predictions.push(rowText(texts[0], tensors[0].shape, r));
    else predictions.push(`{${tensors.map((t, k) => `${JSON.stringify(t.name)}:${rowText(texts[k], t.shape, r)}`).join(',')}}`);
  }
  return `{"predictions":[${predictions.join(',')}]}`;
}
