/**
 * A parsed v2 request against the model's inputs and outputs (as the worker's session reports them): names,
 * datatypes and shapes, each mismatch a 400 that names the tensor, what the model expects and what was given.
 */
import { ServeError } from '../errors.ts';
import type { ModelIO, TensorInfo } from '../pool/messages.ts';
import { fmtShape } from './codec.ts';
import { datatypeOfOrt } from './datatypes.ts';
import type { ParsedInfer } from './request.ts';

const bad = (message: string) => new ServeError('BadRequest', message);

/** The model's dimensions as v2 metadata shows them: -1 for a dynamic one. */
export function v2Shape(info: TensorInfo): number[] {
  return info.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
}

/** The v2 datatype of a model tensor ('' when v2 cannot carry it). */
export function v2Datatype(info: TensorInfo): string {
  return datatypeOfOrt(info.type)?.datatype ?? '';
}

function describe(info: TensorInfo): string {
  return `${v2Datatype(info) || info.type || 'non-tensor'} ${fmtShape(v2Shape(info))}`;
}

/** One input's name, datatype and shape against the model's: checked before its data is decoded. */
export function checkInputAgainstModel(input: { name: string; datatype: string; shape: number[] }, io: ModelIO, model: string): void {
  const info = io.inputs.find((i) => i.name === input.name);
  if (!info) {
    throw bad(`unknown input "${input.name}": model "${model}" has inputs ${io.inputs.map((i) => `"${i.name}"`).join(', ')}`);
  }
  const want = v2Datatype(info);
  if (want === '') throw bad(`input "${input.name}" of model "${model}" is of type ${info.type || 'non-tensor'}, which v2 requests cannot carry`);
  if (input.datatype !== want) {
    throw bad(`input "${input.name}": model "${model}" expects datatype ${want}, got ${input.datatype}`);
  }
  const shape = v2Shape(info);
  const fits = shape.length === input.shape.length && shape.every((d, i) => d === -1 || d === input.shape[i]);
  if (!fits) {
    throw bad(`input "${input.name}": model "${model}" expects shape ${fmtShape(shape)}, got ${fmtShape(input.shape)}`);
  }
}

export function validateAgainstModel(req: ParsedInfer, io: ModelIO, model: string): void {
  for (const input of req.inputs) checkInputAgainstModel(input, io, model);
  const given = new Set(req.inputs.map((i) => i.name));
  const missing = io.inputs.filter((i) => !given.has(i.name));
  if (missing.length > 0) {
    throw bad(`missing input${missing.length > 1 ? 's' : ''} ${missing.map((i) => `"${i.name}" (${describe(i)})`).join(', ')} for model "${model}"`);
  }
  const outputs = new Set(io.outputs.map((o) => o.name));
  for (const o of req.outputs ?? []) {
    if (!outputs.has(o.name)) {
      throw bad(`unknown output "${o.name}": model "${model}" has outputs ${io.outputs.map((x) => `"${x.name}"`).join(', ')}`);
    }
  }
}

/**
 * Requests that may share a batch: the same inputs with the same datatypes and the same shapes beyond dim 0,
 * asking for the same outputs. Dim 0 is the batch dimension the worker concatenates along.
 */
export function batchKey(req: ParsedInfer): string {
  const inputs = [...req.inputs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((i) => `${JSON.stringify(i.name)}:${i.datatype}:${i.shape.length === 0 ? 'scalar' : i.shape.slice(1).join('x')}`);
  const outputs = req.outputs === null ? '*' : JSON.stringify(req.outputs.map((o) => o.name).sort());
  return `v2|${inputs.join('|')}|${outputs}`;
}
