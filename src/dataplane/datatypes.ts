/**
 * Open Inference Protocol v2 datatypes and their onnxruntime-node element types: every tensor type
 * onnxruntime-node can feed (BF16 has no onnxruntime-node tensor type and is refused).
 */

export type V2Datatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

export interface DatatypeInfo {
  datatype: V2Datatype;
  /** onnxruntime-node's element type. */
  ort: string;
  /** Bytes per element; 0 for BYTES (each element is a 4-byte length + its bytes). */
  size: number;
}

const TABLE: DatatypeInfo[] = [
  { datatype: 'BOOL', ort: 'bool', size: 1 },
  { datatype: 'UINT8', ort: 'uint8', size: 1 },
  { datatype: 'UINT16', ort: 'uint16', size: 2 },
  { datatype: 'UINT32', ort: 'uint32', size: 4 },
  { datatype: 'UINT64', ort: 'uint64', size: 8 },
  { datatype: 'INT8', ort: 'int8', size: 1 },
  { datatype: 'INT16', ort: 'int16', size: 2 },
  { datatype: 'INT32', ort: 'int32', size: 4 },
  { datatype: 'INT64', ort: 'int64', size: 8 },
  { datatype: 'FP16', ort: 'float16', size: 2 },
  { datatype: 'FP32', ort: 'float32', size: 4 },
  { datatype: 'FP64', ort: 'float64', size: 8 },
  { datatype: 'BYTES', ort: 'string', size: 0 },
];

const BY_NAME = new Map(TABLE.map((t) => [t.datatype as string, t]));
const BY_ORT = new Map(TABLE.map((t) => [t.ort, t]));

export const DATATYPES: readonly V2Datatype[] = TABLE.map((t) => t.datatype);

/** The datatype named in a request, or undefined when onnxruntime-node cannot take it. */
export function datatypeInfo(name: string): DatatypeInfo | undefined {
  return BY_NAME.get(name);
}

/** The v2 datatype of an onnxruntime element type (`float32` → FP32), or undefined for one v2 cannot carry. */
export function datatypeOfOrt(ortType: string): DatatypeInfo | undefined {
  return BY_ORT.get(ortType);
}

/** A typed-array view over `bytes` for a fixed-width type (copied once when the bytes are not aligned). */
export function typedView(ortType: string, bytes: Uint8Array): ArrayLike<number | bigint> & { length: number } {
  const ctor = VIEWS[ortType];
  if (!ctor) throw new TypeError(`no typed array for element type ${ortType}`);
  const size = ctor.BYTES_PER_ELEMENT;
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new ctor(src.buffer, src.byteOffset, Math.floor(src.byteLength / size));
}

type ViewCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayLike<number | bigint> & { length: number };
  BYTES_PER_ELEMENT: number;
};

const VIEWS: Record<string, ViewCtor> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
};
