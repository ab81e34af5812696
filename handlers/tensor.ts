/**
 * Built-in `tensor` handler: JSON tensors in, JSON tensors out, for any model.
 *
 * Request `data`: `{"inputs": {"<name>": <nested array | {"data": [...], "shape": [...], "datatype"?: "FP32"}>}}`
 * (string tensors, v2 BYTES, take and give JSON strings),
 * or, for a single-input model, the bare nested array (or bare `{"data", "shape"}` object).
 * Response per request: `{"outputs": {"<name>": <nested array>}}`.
 *
 * Requests of a batch whose inputs agree beyond dim 0 are concatenated along dim 0, run once and split back;
 * the others run on their own. A bad request gets a 400 in its own slot only.
 */
import type { Feeds, Handler, HandlerContext, RequestInput } from '../src/handler/contract.ts';

type Tensor = Feeds[string];

type ElemType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool' | 'string';
type Data = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | string[];
type Dim = number | string;

interface InputSpec {
  name: string;
  type: ElemType;
  /** null when the model does not say. */
  shape: Dim[] | null;
}
interface Parsed {
  shape: number[];
  data: Data;
}
type ParsedRequest = Record<string, Parsed>;

const ARRAYS: Record<ElemType, new (n: number) => Data> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  int8: Int8Array,
  bool: Uint8Array,
  // ONNX string tensors (v2 BYTES): JSON strings in and out.
  string: Array as unknown as new (n: number) => string[],
};
const V2_TYPES: Record<string, ElemType> = {
  FP32: 'float32', FP64: 'float64', INT32: 'int32', INT64: 'int64', UINT8: 'uint8', INT8: 'int8', BOOL: 'bool', BYTES: 'string',
};
const INT_RANGE: Partial<Record<ElemType, [number, number]>> = {
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  int8: [-128, 127],
};
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

class BadInput extends Error {}

const fmtShape = (shape: readonly Dim[]): string => `[${shape.join(',')}]`;
const fmtPath = (path: number[]): string => `[${path.join(',')}]`;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Converts one JSON leaf to the element type; `undefined` means it does not fit. */
function convert(v: unknown, type: ElemType): number | bigint | string | undefined {
  if (type === 'string') return typeof v === 'string' ? v : undefined;
  if (type === 'bool') return v === true || v === 1 ? 1 : v === false || v === 0 ? 0 : undefined;
  // JSON has no NaN or infinities; a number too large for a double (1e999) parses as Infinity: refuse it.
  if (type === 'float32' || type === 'float64') return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  if (type === 'int64') {
    let b: bigint | undefined;
    if (typeof v === 'bigint') b = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
    else if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) b = BigInt(v);
    return b !== undefined && b >= INT64_MIN && b <= INT64_MAX ? b : undefined;
  }
  const [min, max] = INT_RANGE[type]!;
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v)}`;
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (Array.isArray(v)) return 'an array';
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
}

/** Shape of a nested array, following first elements. */
function nestedShape(v: unknown): number[] {
  const shape: number[] = [];
  while (Array.isArray(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return shape;
}

/** Fills `out` from a nested array of exactly `shape`, converting and checking every leaf. */
function fill(name: string, spec: InputSpec, v: unknown, shape: number[], out: Data): void {
  let at = 0;
  const path: number[] = [];
  const walk = (node: unknown, level: number): void => {
    if (level === shape.length) {
      const x = convert(node, spec.type);
      if (x === undefined) {
        throw new BadInput(`input "${name}": element ${fmtPath(path)} is ${describe(node)}, expected ${spec.type}`);
      }
      out[at++] = x as never;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[level]) {
      const got = Array.isArray(node) ? `${node.length} elements` : describe(node);
      throw new BadInput(
        `input "${name}": ragged array at ${fmtPath(path)}: expected ${shape[level]} elements, got ${got}`,
      );
    }
    for (let i = 0; i < node.length; i++) {
      path.push(i);
      walk(node[i], level + 1);
      path.pop();
    }
  };
  walk(v, 0);
}

function parseTensor(name: string, spec: InputSpec, value: unknown): Parsed {
  const expected = `${spec.type} ${spec.shape ? fmtShape(spec.shape) : ''}`.trim();
  let shape: number[];
  let nested: unknown = value;
  if (isObject(value)) {
    if (!('data' in value)) {
      throw new BadInput(`input "${name}": expected a nested array or {"data": [...], "shape": [...]} (${expected})`);
    }
    if (value.datatype !== undefined) {
      const t = typeof value.datatype === 'string' ? (V2_TYPES[value.datatype.toUpperCase()] ?? value.datatype) : '';
      if (t !== spec.type) {
        throw new BadInput(`input "${name}": datatype ${JSON.stringify(value.datatype)} does not match the model's ${spec.type}`);
      }
    }
    if (!Array.isArray(value.data)) throw new BadInput(`input "${name}": "data" must be an array (${expected})`);
    if (value.shape === undefined) {
      shape = nestedShape(value.data);
      nested = value.data;
    } else {
      const s = value.shape;
      if (!Array.isArray(s) || !s.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
        throw new BadInput(`input "${name}": "shape" must be an array of non-negative integers`);
      }
      shape = s as number[];
      const flat = (value.data as unknown[]).flat(Infinity);
      const count = shape.reduce((a, b) => a * b, 1);
      if (flat.length !== count) {
        throw new BadInput(`input "${name}": shape ${fmtShape(shape)} needs ${count} values, "data" has ${flat.length}`);
      }
      const data = new ARRAYS[spec.type](count);
      fill(name, spec, flat, [count], data);
      checkShape(name, spec, shape, expected);
      return { shape, data };
    }
  } else {
    shape = nestedShape(value);
  }
  checkShape(name, spec, shape, expected);
  const data = new ARRAYS[spec.type](shape.reduce((a, b) => a * b, 1));
  fill(name, spec, nested, shape, data);
  return { shape, data };
}

function checkShape(name: string, spec: InputSpec, shape: number[], expected: string): void {
  if (!spec.shape) return;
  const bad =
    shape.length !== spec.shape.length ||
    spec.shape.some((d, i) => typeof d === 'number' && d > 0 && shape[i] !== d);
  if (bad) {
    const rank = shape.length !== spec.shape.length ? ` (rank ${spec.shape.length}, got rank ${shape.length})` : '';
    throw new BadInput(`input "${name}": expected ${expected}${rank}, got shape ${fmtShape(shape)}`);
  }
}

/** Converts a run's output tensor (rows [from, to) of dim 0 when `rows` is given) to nested arrays. */
function toNested(t: Tensor, rows?: [number, number]): unknown {
  const dims = [...t.dims];
  const data = t.data as ArrayLike<unknown>;
  let start = 0;
  if (rows) {
    const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
    start = rows[0] * rowSize;
    dims[0] = rows[1] - rows[0];
  }
  const leaf =
    t.type === 'bool'
      ? (x: unknown) => x === 1 || x === true
      : (x: unknown) => (typeof x === 'bigint' ? Number(x) : x);
  let at = start;
  const build = (level: number): unknown => {
    if (level === dims.length) return leaf(data[at++]);
    const out = new Array(dims[level]);
    for (let i = 0; i < dims[level]; i++) out[i] = build(level + 1);
    return out;
  };
  return build(0);
}

export default class TensorHandler implements Handler {
  private inputs: InputSpec[] = [];
  private batchable = true;

  initialize(ctx: HandlerContext): void {
    const session = ctx.session;
    if (!session) throw new Error('tensor handler needs a model: the archive has no serializedFile');
    let meta: readonly unknown[] = [];
    try {
      meta = session.inputMetadata ?? [];
    } catch {
      meta = []; // older onnxruntime builds
    }
    this.inputs = session.inputNames.map((name) => {
      const m = meta.find((x) => (x as { name?: string }).name === name) as
        | { isTensor?: boolean; type?: string; shape?: ReadonlyArray<Dim> }
        | undefined;
      if (m && m.isTensor === false) throw new Error(`tensor handler: input "${name}" is not a tensor`);
      const type = (m?.type ?? 'float32') as ElemType;
      if (!(type in ARRAYS)) {
        throw new Error(`tensor handler: input "${name}" is ${type}; supported: ${Object.keys(ARRAYS).join(', ')}`);
      }
      const shape = m?.shape && m.shape.length > 0 ? [...m.shape] : null;
      return { name, type, shape };
    });
    // Concatenating along dim 0 needs a dynamic dim 0 on every input.
    this.batchable = this.inputs.every((s) => !s.shape || typeof s.shape[0] !== 'number' || s.shape[0] <= 0);
  }

  async handle(requests: RequestInput[], ctx: HandlerContext): Promise<unknown[]> {
    const results: unknown[] = new Array(requests.length);
    const groups = new Map<string, number[]>();
    const parsed: ParsedRequest[] = [];
    requests.forEach((req, i) => {
      try {
        parsed[i] = this.parseRequest(req);
      } catch (err) {
        if (!(err instanceof BadInput)) throw err;
        results[i] = new ctx.HandlerError(400, err.message);
        return;
      }
      const key = this.groupKey(parsed[i]) ?? `alone:${i}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const members of groups.values()) {
      if (members.length > 1 && (await this.runTogether(members, parsed, results, ctx))) continue;
      for (const i of members) results[i] = await this.runOne(parsed[i], ctx);
    }
    return results;
  }

  private parseRequest(req: RequestInput): ParsedRequest {
    let body = req.data ?? req.body;
    if (body instanceof Uint8Array) body = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch (err) {
        throw new BadInput(`the request is not JSON: ${(err as Error).message}`);
      }
    }
    const names = this.inputs.map((s) => s.name);
    const wanted = `{"inputs": {${names.map((n) => `"${n}": [...]`).join(', ')}}}`;
    let values: Record<string, unknown>;
    if (isObject(body) && isObject(body.inputs)) values = body.inputs;
    else if (names.length === 1 && isObject(body) && Array.isArray(body.inputs)) values = { [names[0]]: body.inputs };
    else if (names.length === 1 && (Array.isArray(body) || (isObject(body) && 'data' in body) || typeof body === 'number')) {
      values = { [names[0]]: body };
    } else throw new BadInput(`expected ${wanted}`);

    for (const key of Object.keys(values)) {
      if (!names.includes(key)) throw new BadInput(`unknown input "${key}": the model's inputs are ${names.join(', ')}`);
    }
    const out: ParsedRequest = {};
    for (const spec of this.inputs) {
      if (values[spec.name] === undefined) {
        const expected = `${spec.type}${spec.shape ? ' ' + fmtShape(spec.shape) : ''}`;
        throw new BadInput(`missing input "${spec.name}": expected ${expected}`);
      }
      out[spec.name] = parseTensor(spec.name, spec, values[spec.name]);
    }
    return out;
  }

  /** Requests with the same key can be concatenated along dim 0; null when this one cannot be. */
  private groupKey(req: ParsedRequest): string | null {
    if (!this.batchable) return null;
    const first = req[this.inputs[0].name];
    if (first.shape.length === 0) return null;
    const rows = first.shape[0];
    const parts: string[] = [];
    for (const spec of this.inputs) {
      const { shape } = req[spec.name];
      if (shape.length === 0 || shape[0] !== rows) return null;
      parts.push(shape.slice(1).join('x'));
    }
    return parts.join('|');
  }

  /** One run for the whole group; false (nothing written) when the outputs cannot be split back by rows. */
  private async runTogether(
    members: number[],
    parsed: ParsedRequest[],
    results: unknown[],
    ctx: HandlerContext,
  ): Promise<boolean> {
    const rows = members.map((i) => parsed[i][this.inputs[0].name].shape[0]);
    const total = rows.reduce((a, b) => a + b, 0);
    const feeds: Record<string, Tensor> = {};
    for (const spec of this.inputs) {
      const parts = members.map((i) => parsed[i][spec.name]);
      const data = new ARRAYS[spec.type](parts.reduce((a, p) => a + p.data.length, 0));
      let at = 0;
      for (const p of parts) {
        if (Array.isArray(data)) for (let k = 0; k < p.data.length; k++) data[at + k] = (p.data as string[])[k];
        else data.set(p.data as never, at);
        at += p.data.length;
      }
      feeds[spec.name] = new ctx.Tensor(spec.type, data as never, [total, ...parts[0].shape.slice(1)]);
    }
    let outputs: Record<string, Tensor>;
    try {
      outputs = (await ctx.session!.run(feeds)) as Record<string, Tensor>;
    } catch (err) {
      ctx.logger.debug('tensor handler: batched run failed; running requests one by one', { error: String(err) });
      return false;
    }
    if (!Object.values(outputs).every((t) => t.dims.length > 0 && t.dims[0] === total)) return false;
    let start = 0;
    members.forEach((i, k) => {
      const range: [number, number] = [start, start + rows[k]];
      start += rows[k];
      const out: Record<string, unknown> = {};
      for (const [name, t] of Object.entries(outputs)) out[name] = toNested(t, range);
      results[i] = { outputs: out };
    });
    return true;
  }

  private async runOne(req: ParsedRequest, ctx: HandlerContext): Promise<unknown> {
    const feeds: Record<string, Tensor> = {};
    for (const spec of this.inputs) {
      const { data, shape } = req[spec.name];
      feeds[spec.name] = new ctx.Tensor(spec.type, data as never, shape);
    }
    let outputs: Record<string, Tensor>;
    try {
      outputs = (await ctx.session!.run(feeds)) as Record<string, Tensor>;
    } catch (err) {
      const msg = (err as Error).message;
      const status = /dimension|shape|rank|broadcast|invalid/i.test(msg) ? 400 : 500;
      return new ctx.HandlerError(status, `the model rejected the input: ${msg}`);
    }
    const out: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(outputs)) out[name] = toNested(t);
    return { outputs: out };
  }
}
