/**
 * Small ONNX models built in code with `onnx-proto`, for tests and demos (DESIGN.md "Models for tests and demos").
 * Every builder returns the serialised ModelProto (opset 17, IR version 8); the first dimension of every input and
 * output is the dynamic batch dimension `N` unless a builder is asked otherwise.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type Dim = number | string;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const OPSET = 17;
const IR_VERSION = 8;

function valueInfo(name: string, dims: readonly Dim[], elemType: number = FLOAT): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function floatInit(name: string, dims: readonly number[], values: ArrayLike<number>): onnxProto.onnx.ITensorProto {
  return { name, dims: [...dims], dataType: FLOAT, floatData: Array.from(values) };
}

function intAttr(name: string, i: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attribute: onnxProto.onnx.IAttributeProto[] = [],
): onnxProto.onnx.INodeProto {
  return { opType, input, output, name: `${opType}_${output[0]}`, attribute };
}

function model(name: string, graph: Omit<onnxProto.onnx.IGraphProto, 'name'>): Uint8Array {
  const proto: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'modelserver-scripts',
    producerVersion: '1',
    graph: { name, ...graph },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(proto)).finish();
}

/**
 * A 3-class "dominant colour" classifier: GlobalAveragePool → Flatten → Gemm(4·I). Input `input` float32
 * [N,3,size,size] (ImageNet-normalised RGB, NCHW), output `output` float32 [N,3] logits (no softmax).
 * Classes: 0 red, 1 green, 2 blue. `size: null` gives dynamic spatial dims `H`, `W`; `batch` fixes dim 0.
 */
export function colorsClassifier({ size = 224, batch = 'N' }: { size?: number | null; batch?: number | 'N' } = {}): Uint8Array {
  if (size !== null && !(Number.isInteger(size) && size > 0)) throw new RangeError('size must be a positive integer');
  const spatial: Dim[] = size === null ? ['H', 'W'] : [size, size];
  const weights = [4, 0, 0, 0, 4, 0, 0, 0, 4]; // B in Gemm(A, B) with transB = 0: [3 in, 3 out]
  return model('colors_classifier', {
    input: [valueInfo('input', [batch, 3, ...spatial])],
    output: [valueInfo('output', [batch, 3])],
    initializer: [floatInit('weights', [3, 3], weights), floatInit('bias', [3], [0, 0, 0])],
    node: [
      node('GlobalAveragePool', ['input'], ['pooled']),
      node('Flatten', ['pooled'], ['flat'], [intAttr('axis', 1)]),
      node('Gemm', ['flat', 'weights', 'bias'], ['output']),
    ],
  });
}

/** `index_to_name.json` for {@link colorsClassifier}. */
export function colorsLabels(): Record<string, string> {
  return { '0': 'red', '1': 'green', '2': 'blue' };
}

/** mulberry32: a small deterministic PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in ±1/√fanIn, like a default-initialised linear layer. */
function randomMatrix(rand: () => number, rows: number, cols: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = (rand() * 2 - 1) * bound;
  return out;
}

export interface MlpOptions {
  inputs?: number;
  hidden?: number;
  outputs?: number;
  seed?: number;
}

/** `input` float32 [N,inputs] → Gemm → Relu → Gemm → `output` float32 [N,outputs], weights fixed by `seed`. */
export function mlp({ inputs = 16, hidden = 64, outputs = 4, seed = 1 }: MlpOptions = {}): Uint8Array {
  for (const [k, v] of Object.entries({ inputs, hidden, outputs })) {
    if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`${k} must be a positive integer`);
  }
  const rand = seededRandom(seed);
  return model('mlp', {
    input: [valueInfo('input', ['N', inputs])],
    output: [valueInfo('output', ['N', outputs])],
    initializer: [
      floatInit('w1', [inputs, hidden], randomMatrix(rand, inputs, hidden, inputs)),
      floatInit('b1', [hidden], randomMatrix(rand, 1, hidden, inputs)),
      floatInit('w2', [hidden, outputs], randomMatrix(rand, hidden, outputs, hidden)),
      floatInit('b2', [outputs], randomMatrix(rand, 1, outputs, hidden)),
    ],
    node: [
      node('Gemm', ['input', 'w1', 'b1'], ['h']),
      node('Relu', ['h'], ['h_relu']),
      node('Gemm', ['h_relu', 'w2', 'b2'], ['output']),
    ],
  });
}

/** `x` float32 [N,4] → `y` = x + 1. */
export function addOne(): Uint8Array {
  return model('add_one', {
    input: [valueInfo('x', ['N', 4])],
    output: [valueInfo('y', ['N', 4])],
    initializer: [floatInit('one', [], [1])],
    node: [node('Add', ['x', 'one'], ['y'])],
  });
}

/** `a`, `b` float32 [N,3] → `sum` = a + b, `prod` = a · b (element-wise). */
export function twoInputs(): Uint8Array {
  return model('two_inputs', {
    input: [valueInfo('a', ['N', 3]), valueInfo('b', ['N', 3])],
    output: [valueInfo('sum', ['N', 3]), valueInfo('prod', ['N', 3])],
    node: [node('Add', ['a', 'b'], ['sum']), node('Mul', ['a', 'b'], ['prod'])],
  });
}
