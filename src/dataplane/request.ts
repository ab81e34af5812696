/**
 * The v2 inference request: its JSON header checked field by field, and each input's data (JSON, or a slice
 * of the binary part) turned into wire bytes. Model-independent; `validate.ts` checks against the model.
 */
import { ServeError } from '../errors.ts';
import type { ModelIO } from '../pool/messages.ts';
import { countBytesElements, encodeJson, elementCount, flatten, fmtShape } from './codec.ts';
import { DATATYPES, datatypeInfo, type DatatypeInfo } from './datatypes.ts';
import { checkInputAgainstModel } from './validate.ts';

export type Param = string | number | boolean;
export type Params = Record<string, Param>;

export interface ParsedInput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Params;
  dt: DatatypeInfo;
  /** Wire bytes (own buffer, or a view into the request body for binary data). */
  data: Uint8Array;
}

export interface OutputRequest {
  name: string;
  parameters?: Params;
  /** The output's `binary_data` parameter, when given. */
  binary?: boolean;
}

export interface ParsedInfer {
  id?: string;
  parameters?: Params;
  inputs: ParsedInput[];
  /** null: every output. */
  outputs: OutputRequest[] | null;
  /** Request-level `binary_data_output`, or a raw binary request. */
  binaryOutputs: boolean;
}

const bad = (message: string) => new ServeError('BadRequest', message);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function params(v: unknown, where: string): Params | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw bad(`${where}: parameters must be an object`);
  for (const [k, p] of Object.entries(v)) {
    if (!['string', 'number', 'boolean'].includes(typeof p)) throw bad(`${where}: parameter "${k}" must be a string, number or boolean`);
  }
  return v as Params;
}

function boolParam(p: Params | undefined, key: string, where: string): boolean | undefined {
  const v = p?.[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw bad(`${where}: parameter "${key}" must be true or false`);
  return v;
}

export function parseShape(v: unknown, label: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw bad(`${label}: shape must be an array of non-negative integers`);
  }
  return v as number[];
}

export function parseDatatype(v: unknown, label: string): DatatypeInfo {
  if (typeof v !== 'string') throw bad(`${label}: datatype must be a string`);
  const dt = datatypeInfo(v);
  if (dt) return dt;
  if (v === 'BF16') throw bad(`${label}: datatype BF16 is not supported (onnxruntime-node has no bfloat16 tensors)`);
  throw bad(`${label}: unknown datatype "${v}"; expected one of ${DATATYPES.join(', ')}`);
}

/** The model a request is for: each input's name, datatype and shape is checked against it before its data is decoded. */
export interface TargetModel {
  name: string;
  io: ModelIO | null;
}

/**
 * Parses the JSON header and the binary part after it (empty for a JSON-only request). Inputs with a
 * `binary_data_size` parameter take their bytes from `binary`, in order; every byte must be used. With `model`
 * (and a model whose handler does not take v2 requests itself), an input the model cannot take is refused before
 * its data is looked at: 1.6 million BYTES elements sent to an FP32 model cost nothing to refuse. Decoding is
 * linear in the bytes, and allocates only the one buffer of wire bytes per input.
 */
export function parseInfer(header: unknown, binary: Uint8Array, model?: TargetModel): ParsedInfer {
  const io = model?.io && !model.io.acceptsV2Requests ? model.io : undefined;
  if (!isObject(header)) throw bad('the inference request must be a JSON object');
  if (header.id !== undefined && typeof header.id !== 'string') throw bad('"id" must be a string');
  const parameters = params(header.parameters, 'the request');
  if (!Array.isArray(header.inputs) || header.inputs.length === 0) throw bad('"inputs" must be a non-empty array');
  const seen = new Set<string>();
  let offset = 0;
  const inputs = header.inputs.map((raw, i): ParsedInput => {
    if (!isObject(raw)) throw bad(`input ${i} must be an object`);
    if (typeof raw.name !== 'string' || raw.name === '') throw bad(`input ${i}: "name" must be a non-empty string`);
    const label = `input "${raw.name}"`;
    if (seen.has(raw.name)) throw bad(`${label} is given twice`);
    seen.add(raw.name);
    const shape = parseShape(raw.shape, label);
    const dt = parseDatatype(raw.datatype, label);
    if (io) checkInputAgainstModel({ name: raw.name, datatype: dt.datatype, shape }, io, model!.name);
    const p = params(raw.parameters, label);
    const size = p?.binary_data_size;
    let data: Uint8Array;
    if (size !== undefined) {
      if (raw.data !== undefined) throw bad(`${label} has both "data" and a binary_data_size parameter`);
      if (!Number.isSafeInteger(size) || (size as number) < 0) throw bad(`${label}: binary_data_size must be a non-negative integer`);
      const n = size as number;
      if (offset + n > binary.byteLength) {
        throw bad(`${label}: binary_data_size is ${n} but only ${binary.byteLength - offset} bytes of binary data remain after the JSON header`);
      }
      data = binary.subarray(offset, offset + n);
      offset += n;
      checkBinary(data, shape, dt, label);
      if (dt.datatype === 'BOOL') data = Uint8Array.from(data, (b) => (b ? 1 : 0));
    } else {
      if (raw.data === undefined) throw bad(`${label} has no "data" (and no binary_data_size parameter)`);
      data = encodeJson(flatten(raw.data, shape, label), dt, label);
    }
    return { name: raw.name, datatype: dt.datatype, shape, parameters: p, dt, data };
  });
  if (offset !== binary.byteLength) {
    throw bad(`the request has ${binary.byteLength - offset} bytes of binary data that no input's binary_data_size accounts for`);
  }
  return {
    id: header.id as string | undefined,
    parameters,
    inputs,
    outputs: parseOutputs(header.outputs),
    binaryOutputs: boolParam(parameters, 'binary_data_output', 'the request') ?? false,
  };
}

export function parseOutputs(v: unknown): OutputRequest[] | null {
  if (v === undefined) return null;
  if (!Array.isArray(v)) throw bad('"outputs" must be an array');
  const seen = new Set<string>();
  return v.map((raw, i) => {
    if (!isObject(raw) || typeof raw.name !== 'string' || raw.name === '') throw bad(`output ${i} must be an object with a non-empty "name"`);
    const label = `output "${raw.name}"`;
    if (seen.has(raw.name)) throw bad(`${label} is requested twice`);
    seen.add(raw.name);
    const p = params(raw.parameters, label);
    return { name: raw.name, parameters: p, binary: boolParam(p, 'binary_data', label) };
  });
}

/** Binary data must be exactly the size the shape and datatype call for. */
export function checkBinary(data: Uint8Array, shape: number[], dt: DatatypeInfo, label: string): void {
  const count = elementCount(shape);
  if (dt.size > 0) {
    if (data.byteLength !== count * dt.size) {
      throw bad(`${label}: binary_data_size is ${data.byteLength} bytes but shape ${fmtShape(shape)} of ${dt.datatype} needs ${count * dt.size}`);
    }
    return;
  }
  const n = countBytesElements(data, label, count);
  if (n !== count) throw bad(`${label}: binary data holds ${n > count ? 'more than ' + count : n} BYTES elements but shape ${fmtShape(shape)} needs ${count}`);
}
