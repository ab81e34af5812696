/**
 * Tensor data between its JSON form (nested or flat arrays) and the wire form (little-endian bytes; BYTES as
 * 4-byte length-prefixed elements). Every refusal is a 400 that names the tensor and the element.
 */
import { ServeError } from '../errors.ts';
import { typedView, type DatatypeInfo } from './datatypes.ts';
import { fromHalf, toHalf } from './fp16.ts';
import { packBytes } from '../pool/bytes.ts';

export { packBytes };

const bad = (message: string) => new ServeError('BadRequest', message);

const INT_RANGE: Record<string, [number, number]> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
};
const BIG_RANGE: Record<string, [bigint, bigint]> = {
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT64: [0n, 2n ** 64n - 1n],
};
const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export const fmtShape = (shape: readonly (number | string)[]): string => `[${shape.join(',')}]`;

function show(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 24 ? v.slice(0, 24) + '…' : v)}`;
  if (Array.isArray(v)) return 'an array';
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
}

/** Flattens `data`, which must be flat or nested exactly as `shape`. */
export function flatten(data: unknown, shape: readonly number[], label: string): unknown[] {
  if (!Array.isArray(data)) throw bad(`${label}: data must be an array`);
  const count = elementCount(shape);
  if (!data.some(Array.isArray)) {
    if (data.length !== count) {
      throw bad(`${label}: data has ${data.length} elements but shape ${fmtShape(shape)} needs ${count}`);
    }
    return data;
  }
  const out: unknown[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw bad(`${label}: data is nested deeper than shape ${fmtShape(shape)}`);
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      const got = Array.isArray(v) ? `${v.length} entries` : show(v);
      throw bad(`${label}: nested data does not match shape ${fmtShape(shape)}: dimension ${depth} has ${got}, expected ${shape[depth]}`);
    }
    for (const x of v) walk(x, depth + 1);
  };
  walk(data, 0);
  return out;
}

/** JSON elements (already flat) → wire bytes in a buffer of their own. */
export function encodeJson(values: unknown[], dt: DatatypeInfo, label: string): Uint8Array {
  const t = dt.datatype;
  const fail = (i: number, v: unknown, want: string) => bad(`${label}: element ${i} is ${show(v)}, expected ${want} for ${t}`);
  if (t === 'BYTES') {
    // One pass to size, one to write: a single buffer, no per-element allocation.
    let total = 4 * values.length;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'string') throw fail(i, v, 'a string');
      total += Buffer.byteLength(v, 'utf8');
    }
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (const v of values as string[]) {
      const n = v.length === 0 ? 0 : out.write(v, at + 4, 'utf8');
      out.writeUInt32LE(n, at);
      at += 4 + n;
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  if (t === 'BOOL') {
    const out = new Uint8Array(values.length);
    values.forEach((v, i) => {
      if (typeof v !== 'boolean') throw fail(i, v, 'true or false');
      out[i] = v ? 1 : 0;
    });
    return out;
  }
  if (t === 'FP16' || t === 'FP32' || t === 'FP64') {
    const out = t === 'FP16' ? new Uint16Array(values.length) : t === 'FP32' ? new Float32Array(values.length) : new Float64Array(values.length);
    const half = t === 'FP16';
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string' && v in NON_FINITE) n = NON_FINITE[v];
      else throw fail(i, v, 'a number (or "NaN", "Infinity", "-Infinity")');
      out[i] = half ? toHalf(n) : n;
    }
    return bytesOf(out);
  }
  const big = BIG_RANGE[t];
  if (big) {
    const out = t === 'INT64' ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
    values.forEach((v, i) => {
      let b: bigint | undefined;
      if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
      else if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) b = BigInt(v);
      else if (typeof v === 'number' && Number.isInteger(v)) {
        throw bad(`${label}: element ${i} = ${v} is beyond 2^53 and was rounded by JSON; send it as a string or as binary data`);
      }
      if (b === undefined) throw fail(i, v, 'an integer');
      if (b < big[0] || b > big[1]) throw bad(`${label}: element ${i} = ${b} is out of range for ${t}`);
      out[i] = b;
    });
    return bytesOf(out);
  }
  const [min, max] = INT_RANGE[t];
  const ctors: Record<string, new (n: number) => Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array | Int32Array> = {
    UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, INT8: Int8Array, INT16: Int16Array, INT32: Int32Array,
  };
  const out = new ctors[t](values.length);
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw fail(i, v, 'an integer');
    if (v < min || v > max) throw bad(`${label}: element ${i} = ${v} is out of range [${min}, ${max}] for ${t}`);
    out[i] = v;
  });
  return bytesOf(out);
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}


/**
 * How many elements length-prefixed BYTES data holds, without making any: throws (with `label`) when the framing
 * is broken; stops counting past `limit` (returning limit + 1).
 */
export function countBytesElements(data: Uint8Array, label: string, limit = Infinity): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let count = 0;
  let at = 0;
  while (at < data.byteLength) {
    if (count === limit) return limit + 1;
    if (at + 4 > data.byteLength) throw bad(`${label}: BYTES data ends inside the 4-byte length of element ${count}`);
    const n = view.getUint32(at, true);
    if (at + 4 + n > data.byteLength) {
      throw bad(`${label}: BYTES element ${count} declares ${n} bytes but only ${data.byteLength - at - 4} remain`);
    }
    at += 4 + n;
    count++;
  }
  return count;
}

/** The elements of length-prefixed BYTES data; throws (with `label`) when the framing is broken. */
export function unpackBytes(data: Uint8Array, label: string): Uint8Array[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.byteLength) {
    if (at + 4 > data.byteLength) throw bad(`${label}: BYTES data ends inside the 4-byte length of element ${out.length}`);
    const n = view.getUint32(at, true);
    if (at + 4 + n > data.byteLength) {
      throw bad(`${label}: BYTES element ${out.length} declares ${n} bytes but only ${data.byteLength - at - 4} remain`);
    }
    out.push(data.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** Wire bytes → the JSON text of a flat `data` array (exact for 64-bit integers; non-finite floats as strings). */
export function jsonDataText(dt: DatatypeInfo, data: Uint8Array): string {
  const t = dt.datatype;
  if (t === 'BYTES') return `[${unpackBytes(data, 'output').map((e) => JSON.stringify(Buffer.from(e).toString('utf8'))).join(',')}]`;
  const view = typedView(dt.ort, data);
  if (t === 'BOOL') return `[${Array.from(view as Uint8Array, (v) => (v ? 'true' : 'false')).join(',')}]`;
  if (t === 'FP16') return `[${Array.from(view as Uint16Array, (b) => num(fromHalf(b))).join(',')}]`;
  if (t === 'FP32' || t === 'FP64') return `[${Array.from(view as Float32Array, num).join(',')}]`;
  return `[${Array.prototype.join.call(view, ',')}]`;
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : `"${v}"`;
}
