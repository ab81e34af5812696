/**
 * Small ONNX models for the Open Inference Protocol v2 tests, built with onnx-proto (opset 17, IR 8), and
 * helpers to write v2 requests byte for byte.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
type Dim = number | string;

/** ONNX element types by v2 datatype. */
export const ELEM: Record<string, number> = {
  BOOL: T.BOOL,
  UINT8: T.UINT8,
  UINT16: T.UINT16,
  UINT32: T.UINT32,
  UINT64: T.UINT64,
  INT8: T.INT8,
  INT16: T.INT16,
  INT32: T.INT32,
  INT64: T.INT64,
  FP16: T.FLOAT16,
  FP32: T.FLOAT,
  FP64: T.DOUBLE,
  BYTES: T.STRING,
};
export const ALL_TYPES = Object.keys(ELEM);

function valueInfo(name: string, dims: readonly Dim[], elemType: number): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function model(name: string, graph: Omit<onnxProto.onnx.IGraphProto, 'name'>): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'modelserver-tests', graph: { name, ...graph } }),
  ).finish();
}

/** `x` → Identity → `y`, of one v2 datatype and shape (default [N,2]). */
export function identity(datatype: string, dims: readonly Dim[] = ['N', 2]): Uint8Array {
  return model(`identity_${datatype.toLowerCase()}`, {
    input: [valueInfo('x', dims, ELEM[datatype])],
    output: [valueInfo('y', dims, ELEM[datatype])],
    node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'id' }],
  });
}

/** One Identity per datatype: `in_<TYPE>` [N,2] → `out_<TYPE>` [N,2], for all 13 datatypes (or those given). */
export function everyType(types: readonly string[] = ALL_TYPES): Uint8Array {
  return model('every_type', {
    input: types.map((t) => valueInfo(`in_${t}`, ['N', 2], ELEM[t])),
    output: types.map((t) => valueInfo(`out_${t}`, ['N', 2], ELEM[t])),
    node: types.map((t) => ({ opType: 'Identity', input: [`in_${t}`], output: [`out_${t}`], name: `id_${t}` })),
  });
}

/**
 * A model that shows the batch it ran in: `x` FP32 [N,K] → `rows` FP32 [N,K], every element N (the rows of
 * the tensor the model saw), and `same` = x.
 */
export function batchProbe(): Uint8Array {
  return model('batch_probe', {
    input: [valueInfo('x', ['N', 'K'], T.FLOAT)],
    output: [valueInfo('rows', ['N', 'K'], T.FLOAT), valueInfo('same', ['N', 'K'], T.FLOAT)],
    initializer: [
      { name: 'zero_idx', dims: [], dataType: T.INT64, int64Data: [0] },
      { name: 'zero', dims: [], dataType: T.FLOAT, floatData: [0] },
    ],
    node: [
      { opType: 'Shape', input: ['x'], output: ['shape'], name: 'shape' },
      { opType: 'Gather', input: ['shape', 'zero_idx'], output: ['n'], name: 'gather', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
      { opType: 'Cast', input: ['n'], output: ['nf'], name: 'cast', attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT }] },
      { opType: 'Mul', input: ['x', 'zero'], output: ['z'], name: 'mul' },
      { opType: 'Add', input: ['z', 'nf'], output: ['rows'], name: 'add' },
      { opType: 'Identity', input: ['x'], output: ['same'], name: 'id' },
    ],
  });
}

/** A binary v2 request body: the JSON header, then the tensors' bytes; returns the body and the header length. */
export function binaryBody(header: unknown, ...tensors: Uint8Array[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...tensors]), headerLength: json.byteLength };
}

/** BYTES elements as the binary extension lays them out: a 4-byte little-endian length, then the bytes. */
export function bytesElements(...elements: (string | Uint8Array)[]): Buffer {
  return Buffer.concat(
    elements.map((e) => {
      const b = typeof e === 'string' ? Buffer.from(e, 'utf8') : Buffer.from(e);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.byteLength);
      return Buffer.concat([len, b]);
    }),
  );
}

/** Splits a binary response body at Inference-Header-Content-Length into its JSON header and the bytes after it. */
export function splitBinary(body: Buffer, headerLength: number): { json: Record<string, unknown>; rest: Buffer } {
  return { json: JSON.parse(body.subarray(0, headerLength).toString('utf8')), rest: body.subarray(headerLength) };
}

/** An embedding lookup: `ids` INT64 [N,1] → Gather from a [3,2] table → `vectors` FP32 [N,1,2]; an id ≥ 3 fails in onnxruntime. */
export function lookup(): Uint8Array {
  return model('lookup', {
    input: [valueInfo('ids', ['N', 1], T.INT64)],
    output: [valueInfo('vectors', ['N', 1, 2], T.FLOAT)],
    initializer: [{ name: 'table', dims: [3, 2], dataType: T.FLOAT, floatData: [0, 0, 1, 1, 2, 2] }],
    node: [{ opType: 'Gather', input: ['table', 'ids'], output: ['vectors'], name: 'gather', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] }],
  });
}
