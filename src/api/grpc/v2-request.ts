/**
 * `ModelInferRequest` (Triton's grpc_service.proto) → the data plane's `ParsedInfer`: every input's data from its
 * typed `contents` (the field its datatype takes) or, for all inputs at once, from `raw_input_contents` (the
 * same little-endian bytes, BYTES as 4-byte length-prefixed elements, as the binary tensor extension). Every
 * refusal is INVALID_ARGUMENT naming the input.
 */
import { ServeError } from '../../errors.ts';
import { elementCount, encodeJson, fmtShape, packBytes } from '../../dataplane/codec.ts';
import { checkBinary, parseDatatype, parseOutputs, type Params, type ParsedInfer, type ParsedInput } from '../../dataplane/request.ts';

const bad = (message: string) => new ServeError('BadRequest', message);

export interface InferParameter {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

export interface InferTensorContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface InferInputTensor {
  name: string;
  datatype: string;
  shape: string[];
  parameters: Record<string, InferParameter>;
  contents: InferTensorContents | null;
}

export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameter>;
  inputs: InferInputTensor[];
  outputs: Array<{ name: string; parameters: Record<string, InferParameter> }>;
  raw_input_contents: Buffer[];
}

type ContentsField = keyof InferTensorContents;

/** The typed contents field each datatype takes (FP16 and BF16 have none: raw only, as in Triton). */
const FIELD_OF: Record<string, ContentsField | undefined> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};
const FIELDS = Object.keys({
  bool_contents: 0, int_contents: 0, int64_contents: 0, uint_contents: 0, uint64_contents: 0, fp32_contents: 0, fp64_contents: 0, bytes_contents: 0,
}) as ContentsField[];

/** A parameter map as the data plane's plain values (64-bit integers as numbers when exact, else strings). */
export function paramsOf(map: Record<string, InferParameter> | undefined): Params | undefined {
  const keys = Object.keys(map ?? {});
  if (keys.length === 0) return undefined;
  const out: Params = {};
  for (const k of keys) {
    const p = map![k];
    const choice = p.parameter_choice as keyof InferParameter | undefined;
    const v = choice ? p[choice] : undefined;
    if (v === undefined) throw bad(`parameter "${k}" has no value`);
    if (choice === 'int64_param' || choice === 'uint64_param') {
      const n = Number(v);
      out[k] = Number.isSafeInteger(n) ? n : String(v);
    } else out[k] = v as string | number | boolean;
  }
  return out;
}

function shapeOf(raw: string[], label: string): number[] {
  return raw.map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) throw bad(`${label}: shape ${fmtShape(raw)} must hold non-negative integers`);
    return n;
  });
}

function typedData(t: InferInputTensor, shape: number[], label: string, datatype: string): Uint8Array {
  const c = t.contents;
  const given = c ? FIELDS.filter((f) => c[f].length > 0) : [];
  const field = FIELD_OF[datatype];
  const count = elementCount(shape);
  if (!field) {
    throw bad(`${label}: ${datatype} has no typed contents field; send its data in raw_input_contents`);
  }
  const wrong = given.filter((f) => f !== field);
  if (wrong.length > 0) throw bad(`${label}: datatype ${datatype} takes contents.${field}, but ${wrong.map((f) => `contents.${f}`).join(', ')} was given`);
  const values = (c?.[field] ?? []) as unknown[];
  if (values.length !== count) {
    throw bad(`${label}: contents.${field} has ${values.length} elements but shape ${fmtShape(shape)} needs ${count}`);
  }
  if (datatype === 'BYTES') return packBytes(values as Buffer[]);
  return encodeJson(values, parseDatatype(datatype, label), label);
}

/** The parsed request; `model` names the model in messages. */
export function parseModelInfer(req: ModelInferRequest, model: string): ParsedInfer {
  if (req.inputs.length === 0) throw bad(`the request for model "${model}" has no inputs`);
  const raw = req.raw_input_contents;
  if (raw.length > 0 && raw.length !== req.inputs.length) {
    throw bad(`raw_input_contents has ${raw.length} entries but the request has ${req.inputs.length} inputs: give one per input, in order, or none`);
  }
  const seen = new Set<string>();
  const inputs = req.inputs.map((t, i): ParsedInput => {
    if (t.name === '') throw bad(`input ${i}: "name" must be a non-empty string`);
    const label = `input "${t.name}"`;
    if (seen.has(t.name)) throw bad(`${label} is given twice`);
    seen.add(t.name);
    const dt = parseDatatype(t.datatype, label);
    const shape = shapeOf(t.shape, label);
    let data: Uint8Array;
    if (raw.length > 0) {
      const c = t.contents;
      if (c && FIELDS.some((f) => c[f].length > 0)) {
        throw bad(`${label}: contents must not be given when the request uses raw_input_contents for model "${model}"`);
      }
      data = raw[i];
      const want = elementCount(shape) * dt.size;
      if (dt.size > 0 && data.byteLength !== want) {
        throw bad(`${label}: raw_input_contents[${i}] has ${data.byteLength} bytes but shape ${fmtShape(shape)} of ${dt.datatype} needs ${want}`);
      }
      if (dt.size === 0) checkBinary(data, shape, dt, `${label} (raw_input_contents[${i}])`);
      if (dt.datatype === 'BOOL') data = Uint8Array.from(data, (b) => (b ? 1 : 0));
    } else {
      data = typedData(t, shape, label, dt.datatype);
    }
    return { name: t.name, datatype: dt.datatype, shape, parameters: paramsOf(t.parameters), dt, data };
  });
  const outputs =
    req.outputs.length === 0 ? null : parseOutputs(req.outputs.map((o) => ({ name: o.name, parameters: paramsOf(o.parameters) })));
  return { id: req.id === '' ? undefined : req.id, parameters: paramsOf(req.parameters), inputs, outputs, binaryOutputs: true };
}
