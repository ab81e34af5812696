/**
 * A small message schema for typing protobuf text format (`textproto.ts`) and protobuf-JSON objects the same way:
 * both become one plain object with the proto's field names (what Triton's HTTP API and `load` with
 * `parameters.config` use). Unknown fields, wrong types, unknown enum names and out-of-range integers are errors
 * naming the field's path (`input[0].data_type`).
 */
import { TextFormatError, type TextField, type TextMessage, type TextScalar } from './textproto.ts';

export type Scalar = 'string' | 'bool' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float' | 'double';

export type FieldType =
  | Scalar
  | { enum: readonly string[] }
  | { message: Schema }
  | { map: Scalar; value: FieldType }
  /** Any nested message, kept as parsed (fields we accept but do not act on). */
  | 'any';

export interface FieldSpec {
  type: FieldType;
  repeated?: boolean;
  /** In the JSON answer a 64-bit value is a number, not a string (Triton fixes these up). */
  jsonNumber?: boolean;
  /** Member of this oneof: not printed with its default when unset. */
  oneof?: string;
}

export type Schema = { readonly [field: string]: FieldSpec };

export class SchemaError extends Error {}

const RANGE: Partial<Record<Scalar, [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

function fail(path: string, why: string, line?: number): never {
  if (line !== undefined) throw new TextFormatError(`${path}: ${why}`, line);
  throw new SchemaError(`${path}: ${why}`);
}

function intOf(path: string, type: Scalar, raw: string | number, line?: number): number {
  let b: bigint;
  try {
    if (typeof raw === 'number') {
      if (!Number.isInteger(raw)) throw new Error();
      b = BigInt(raw);
    } else {
      const s = raw.trim();
      const neg = s.startsWith('-');
      const body = neg ? s.slice(1) : s;
      if (!/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.test(body)) throw new Error();
      const mag = /^0[0-7]+$/.test(body) ? BigInt('0o' + body.slice(1)) : BigInt(body);
      b = neg ? -mag : mag;
    }
  } catch {
    fail(path, `${JSON.stringify(raw)} is not an integer (${type})`, line);
  }
  const [lo, hi] = RANGE[type]!;
  if (b < lo || b > hi) fail(path, `${raw} is out of range for ${type}`, line);
  if (b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)) fail(path, `${raw} is too large`, line);
  return Number(b);
}

function scalarOf(path: string, type: Scalar, v: unknown, line?: number): unknown {
  switch (type) {
    case 'string':
      if (typeof v !== 'string') fail(path, `expected a string, got ${JSON.stringify(v)}`, line);
      return v;
    case 'bool':
      if (v === true || v === 'true' || v === 't' || v === 'True' || v === 1 || v === '1') return true;
      if (v === false || v === 'false' || v === 'f' || v === 'False' || v === 0 || v === '0') return false;
      return fail(path, `expected true or false, got ${JSON.stringify(v)}`, line);
    case 'float':
    case 'double': {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.replace(/[fF]$/, '').replace(/^(-?)inf(inity)?$/i, '$1Infinity')) : NaN;
      if (typeof v === 'string' && /^nan$/i.test(v)) return NaN;
      if (Number.isNaN(n)) fail(path, `expected a number, got ${JSON.stringify(v)}`, line);
      return n;
    }
    default:
      if (typeof v !== 'string' && typeof v !== 'number') fail(path, `expected an integer (${type}), got ${JSON.stringify(v)}`, line);
      return intOf(path, type, v, line);
  }
}

function textScalar(path: string, type: FieldType, v: TextScalar | TextMessage, line: number): unknown {
  if (typeof type === 'object' && 'message' in type) {
    if (v.kind !== 'message') fail(path, 'expected a message { ... }', line);
    return fromText(v, type.message, path);
  }
  if (type === 'any') {
    if (v.kind !== 'message') fail(path, 'expected a message { ... }', line);
    return anyOf(v);
  }
  if (v.kind === 'message') fail(path, 'expected a value, not a message', line);
  if (typeof type === 'object' && 'enum' in type) {
    if (v.kind === 'ident' && type.enum.includes(v.value)) return v.value;
    if (v.kind === 'number') {
      const i = Number(v.text);
      if (Number.isInteger(i) && i >= 0 && i < type.enum.length) return type.enum[i];
    }
    const got = v.kind === 'number' ? v.text : v.value;
    return fail(path, `"${got}" is not one of ${type.enum.join(', ')}`, line);
  }
  if (typeof type === 'object') return fail(path, 'a map entry must be { key: ... value: ... }', line);
  if (type === 'string' && v.kind !== 'string') fail(path, `expected a quoted string, got ${v.kind === 'number' ? v.text : v.value}`, line);
  if (type !== 'string' && v.kind === 'string') fail(path, `expected ${type === 'bool' ? 'true or false' : `a number (${type})`}, got the string ${JSON.stringify(v.value)}`, line);
  return scalarOf(path, type, v.kind === 'number' ? v.text : v.value, line);
}

function anyOf(msg: TextMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of msg.fields) {
    const v = f.value.kind === 'message' ? anyOf(f.value) : f.value.kind === 'number' ? Number(f.value.text) : f.value.value;
    const prev = out[f.name];
    out[f.name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** Types a parsed text-format message against `schema`. */
export function fromText(msg: TextMessage, schema: Schema, at = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const oneofs = new Map<string, string>();
  for (const f of msg.fields) {
    const spec = schema[f.name];
    const path = at ? `${at}.${f.name}` : f.name;
    if (!spec) fail(path, `unknown field "${f.name}"${at ? ` in ${at}` : ''}`, f.line);
    checkOneof(spec, f, oneofs, path);
    if (typeof spec.type === 'object' && 'map' in spec.type) {
      const entries = (out[f.name] ??= {}) as Record<string, unknown>;
      mapEntry(f, spec.type, entries, path);
      continue;
    }
    if (spec.repeated) {
      const list = (out[f.name] ??= []) as unknown[];
      list.push(textScalar(`${path}[${list.length}]`, spec.type, f.value, f.line));
      continue;
    }
    if (seen.has(f.name)) fail(path, 'is set more than once', f.line);
    seen.add(f.name);
    out[f.name] = textScalar(path, spec.type, f.value, f.line);
  }
  return out;
}

function checkOneof(spec: FieldSpec, f: TextField, oneofs: Map<string, string>, path: string): void {
  if (!spec.oneof) return;
  const other = oneofs.get(spec.oneof);
  if (other && other !== f.name) fail(path, `cannot be set together with "${other}"`, f.line);
  oneofs.set(spec.oneof, f.name);
}

function mapEntry(f: TextField, type: { map: Scalar; value: FieldType }, into: Record<string, unknown>, path: string): void {
  if (f.value.kind !== 'message') fail(path, 'a map entry must be { key: ... value: ... }', f.line);
  let key: unknown;
  let value: unknown;
  for (const e of f.value.fields) {
    if (e.name === 'key') key = textScalar(`${path}.key`, type.map, e.value, e.line);
    else if (e.name === 'value') value = textScalar(`${path}.value`, type.value, e.value, e.line);
    else fail(`${path}.${e.name}`, 'a map entry has only "key" and "value"', e.line);
  }
  if (key === undefined) fail(path, 'a map entry needs a "key"', f.line);
  into[String(key)] = value ?? defaultOf(type.value);
}

function jsonValue(path: string, type: FieldType, v: unknown): unknown {
  if (typeof type === 'object' && 'message' in type) return fromJson(v, type.message, path);
  if (type === 'any') {
    if (v === null || typeof v !== 'object') fail(path, 'expected an object');
    return v;
  }
  if (typeof type === 'object' && 'enum' in type) {
    if (typeof v === 'string' && type.enum.includes(v)) return v;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < type.enum.length) return type.enum[v];
    return fail(path, `${JSON.stringify(v)} is not one of ${type.enum.join(', ')}`);
  }
  if (typeof type === 'object') return fail(path, 'expected an object');
  return scalarOf(path, type, v);
}

/** Checks and types a protobuf-JSON object (proto or lowerCamel field names) against `schema`. */
export function fromJson(json: unknown, schema: Schema, at = ''): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(at || 'config', 'expected a JSON object');
  const out: Record<string, unknown> = {};
  const byCamel = new Map(Object.keys(schema).map((k) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), k]));
  for (const [rawName, v] of Object.entries(json)) {
    const name = schema[rawName] ? rawName : byCamel.get(rawName);
    const path = at ? `${at}.${rawName}` : rawName;
    if (!name) fail(path, `unknown field "${rawName}"${at ? ` in ${at}` : ''}`);
    if (v === null) continue;
    const spec = schema[name];
    if (typeof spec.type === 'object' && 'map' in spec.type) {
      if (typeof v !== 'object' || Array.isArray(v)) fail(path, 'expected an object (a map)');
      const t = spec.type;
      out[name] = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(`${path}.${k}`, t.value, x)]));
    } else if (spec.repeated) {
      if (!Array.isArray(v)) fail(path, 'expected an array');
      out[name] = v.map((x, i) => jsonValue(`${path}[${i}]`, spec.type, x));
    } else out[name] = jsonValue(path, spec.type, v);
  }
  return out;
}

function defaultOf(type: FieldType): unknown {
  if (typeof type === 'object') return 'enum' in type ? type.enum[0] : 'message' in type ? {} : {};
  if (type === 'any') return {};
  if (type === 'string') return '';
  if (type === 'bool') return false;
  return 0;
}

/**
 * The protobuf JSON mapping of a typed object as Triton prints it: proto field names, every primitive, repeated
 * and map field printed (with its default when unset), unset messages and oneof members left out, 64-bit
 * integers as strings except those Triton turns back into numbers.
 */
export function toProtoJson(obj: Record<string, unknown>, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const v = obj[name];
    const t = spec.type;
    const conv = (x: unknown): unknown => {
      if (typeof t === 'object' && 'message' in t) return toProtoJson(x as Record<string, unknown>, t.message);
      if ((t === 'int64' || t === 'uint64') && !spec.jsonNumber) return String(x);
      return x;
    };
    if (typeof t === 'object' && 'map' in t) {
      const vt = t.value;
      const m = (v ?? {}) as Record<string, unknown>;
      out[name] = Object.fromEntries(
        Object.entries(m).map(([k, x]) => [k, typeof vt === 'object' && 'message' in vt ? toProtoJson(x as Record<string, unknown>, vt.message) : x]),
      );
    } else if (spec.repeated) out[name] = ((v as unknown[] | undefined) ?? []).map(conv);
    else if (v !== undefined) out[name] = conv(v);
    else if (!spec.oneof && !(typeof t === 'object' && 'message' in t) && t !== 'any') out[name] = conv(defaultOf(t));
  }
  return out;
}
