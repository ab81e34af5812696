/**
 * Small ONNX models built in code with `onnx-proto`, for tests and demos (DESIGN.md "Models for tests and demos").
 * Every builder returns the serialised ModelProto (opset 17, IR version 8); the first dimension of every input and
 * output is the dynamic batch dimension `N` unless a builder is asked otherwise.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type Dim = number | string;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
const OPSET = 17;
const IR_VERSION = 8;

export function valueInfo(name: string, dims: readonly Dim[], elemType: number = FLOAT): onnxProto.onnx.IValueInfoProto {
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

export function floatInit(name: string, dims: readonly number[], values: ArrayLike<number>): onnxProto.onnx.ITensorProto {
  return { name, dims: [...dims], dataType: FLOAT, floatData: Array.from(values) };
}

export function intAttr(name: string, i: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

export function node(
  opType: string,
  input: string[],
  output: string[],
  attribute: onnxProto.onnx.IAttributeProto[] = [],
): onnxProto.onnx.INodeProto {
  return { opType, input, output, name: `${opType}_${output[0]}`, attribute };
}

export function model(name: string, graph: Omit<onnxProto.onnx.IGraphProto, 'name'>): Uint8Array {
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

export function intsAttr(name: string, ints: number[]): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints };
}

/** A float32 initializer stored as raw little-endian bytes (fast to encode for millions of weights). */
function rawFloatInit(name: string, dims: readonly number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  return { name, dims: [...dims], dataType: FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export interface Resnet18Options {
  seed?: number;
  classes?: number;
}

/**
 * A ResNet-18-shaped CNN with random weights fixed by `seed` (about 11.7 M parameters with 1000 classes), for
 * benchmarks: conv 7×7/2 64 → maxpool 3×3/2 → 4 stages of 2 basic blocks (64, 128, 256, 512 channels; stages 2-4
 * start with stride 2 and a 1×1 projection shortcut) → GlobalAveragePool → Flatten → Gemm. BatchNorm is folded
 * into each conv's bias, as an exporter would. Input `input` float32 [N,3,224,224], output `output` [N,classes].
 */
export function resnet18Shaped({ seed = 1, classes = 1000 }: Resnet18Options = {}): Uint8Array {
  if (!(Number.isInteger(classes) && classes > 0)) throw new RangeError('classes must be a positive integer');
  const rand = seededRandom(seed);
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  const nodes: onnxProto.onnx.INodeProto[] = [];
  // Uniform with variance 1/fanIn: activations stay of order one through 17 convs and 8 residual adds.
  const uniform = (n: number, fanIn: number) => {
    const bound = Math.sqrt(3 / fanIn);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * bound;
    return out;
  };
  const conv = (name: string, x: string, cin: number, cout: number, k: number, stride: number, relu: boolean): string => {
    const fanIn = cin * k * k;
    initializer.push(rawFloatInit(`${name}.w`, [cout, cin, k, k], uniform(cout * fanIn, fanIn)));
    initializer.push(rawFloatInit(`${name}.b`, [cout], uniform(cout, 100 * fanIn)));
    const pad = (k - 1) >> 1;
    nodes.push(
      node('Conv', [x, `${name}.w`, `${name}.b`], [`${name}.y`], [
        intsAttr('kernel_shape', [k, k]),
        intsAttr('strides', [stride, stride]),
        intsAttr('pads', [pad, pad, pad, pad]),
      ]),
    );
    if (!relu) return `${name}.y`;
    nodes.push(node('Relu', [`${name}.y`], [`${name}.r`]));
    return `${name}.r`;
  };
  const block = (name: string, x: string, cin: number, cout: number, stride: number): string => {
    const a = conv(`${name}.conv1`, x, cin, cout, 3, stride, true);
    const b = conv(`${name}.conv2`, a, cout, cout, 3, 1, false);
    const shortcut = stride !== 1 || cin !== cout ? conv(`${name}.down`, x, cin, cout, 1, stride, false) : x;
    nodes.push(node('Add', [b, shortcut], [`${name}.sum`]));
    nodes.push(node('Relu', [`${name}.sum`], [`${name}.out`]));
    return `${name}.out`;
  };

  let x = conv('conv1', 'input', 3, 64, 7, 2, true);
  nodes.push(
    node('MaxPool', [x], ['pool1'], [intsAttr('kernel_shape', [3, 3]), intsAttr('strides', [2, 2]), intsAttr('pads', [1, 1, 1, 1])]),
  );
  x = 'pool1';
  let cin = 64;
  [64, 128, 256, 512].forEach((cout, stage) => {
    x = block(`layer${stage + 1}.0`, x, cin, cout, stage === 0 ? 1 : 2);
    x = block(`layer${stage + 1}.1`, x, cout, cout, 1);
    cin = cout;
  });
  nodes.push(node('GlobalAveragePool', [x], ['gap']));
  nodes.push(node('Flatten', ['gap'], ['flat'], [intAttr('axis', 1)]));
  initializer.push(rawFloatInit('fc.w', [classes, 512], uniform(classes * 512, 512)));
  initializer.push(rawFloatInit('fc.b', [classes], uniform(classes, 512)));
  nodes.push(node('Gemm', ['flat', 'fc.w', 'fc.b'], ['output'], [intAttr('transB', 1)]));
  return model('resnet18_shaped', {
    input: [valueInfo('input', ['N', 3, 224, 224])],
    output: [valueInfo('output', ['N', classes])],
    initializer,
    node: nodes,
  });
}
