/**
 * Detectors and a segmenter of solid colours, built with onnx-proto, whose right answers are known: where a test
 * draws a red, green or blue square, they find it. Classes: 0 red, 1 green, 2 blue ({@link colorBoxLabels}).
 *
 * A pixel is of colour k when a 1×1 convolution says so: red R − G − B > 0.3 (on RGB in [0, 1]; the segmenter
 * folds ImageNet normalisation into it), and so on. The detectors reduce each colour's mask to its bounding box
 * (max of mask × coordinate grids) and presence (max of the mask), and write them in a detector export's layout.
 */
import onnxProto from 'onnx-proto';
import { FLOAT, floatInit, intAttr, intsAttr, model, node, valueInfo } from './onnx-models.ts';

const { onnx } = onnxProto;
const INT64 = onnx.TensorProto.DataType.INT64;
const CLASSES = 3;
/** Per class: weights on R, G, B. */
const COLOUR_WEIGHTS = [
  [1, -1, -1],
  [-1, 1, -1],
  [-1, -1, 1],
];
const COLOUR_BIAS = -0.3;

export type DetectorLayout = 'yolov5' | 'yolov8' | 'separate';

export interface ColorBoxDetectorOptions {
  layout: DetectorLayout;
  /** Model input size (fixed). */
  width?: number;
  height?: number;
  /**
   * Add, per colour, a second candidate: the box shrunk by 10% with 0.9 × the score (NMS must drop it), and a
   * third of the next colour's class on the same box with 0.6 × the score (a class-wise NMS keeps it only when
   * the threshold lets it through).
   */
  duplicates?: boolean;
  /** torchvision's export: input [3,H,W], outputs without a batch dimension (separate layout only). */
  unbatched?: boolean;
  /** Older YOLOv5 exports: two rank-5 feature maps as outputs before the detections. */
  featureMaps?: boolean;
  /**
   * TensorFlow's detection API via tf2onnx (separate layout only): input `image_tensor` uint8 [N,H,W,3], outputs
   * `detection_boxes` [N,B,4] as normalised y1, x1, y2, x2, `detection_scores`, `detection_classes` (float) and
   * `num_detections` [N].
   */
  tensorflow?: boolean;
}

export function colorBoxLabels(): Record<string, string> {
  return { '0': 'red', '1': 'green', '2': 'blue' };
}

function int64Init(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: INT64, int64Data: values };
}

/** A colour detector in one of the three output layouts (see the file comment). */
export function colorBoxDetector({ layout, width = 320, height = 256, duplicates = false, unbatched = false, featureMaps = false, tensorflow = false }: ColorBoxDetectorOptions): Uint8Array {
  if ((unbatched || tensorflow) && layout !== 'separate') throw new RangeError('unbatched and tensorflow are for the separate layout');
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const init: onnxProto.onnx.ITensorProto[] = [];
  const n = (op: string, inputs: string[], out: string, attrs: onnxProto.onnx.IAttributeProto[] = []) => {
    nodes.push(node(op, inputs, [out], attrs));
    return out;
  };
  const c = (name: string, dims: number[], values: number[]) => (init.push(floatInit(name, dims, values)), name);
  const axes = (name: string, values: number[]) => (init.push(int64Init(name, [values.length], values)), name);

  const tfInput = () => {
    const f = n('Cast', ['image_tensor'], 'tf_f', [intAttr('to', FLOAT)]);
    return n('Transpose', [n('Mul', [f, c('inv255', [], [1 / 255])], 'tf_unit')], 'x', [intsAttr('perm', [0, 3, 1, 2])]);
  };
  const x = tensorflow ? tfInput() : unbatched ? n('Unsqueeze', ['images', axes('ax0', [0])], 'x') : 'images';
  const score = n('Conv', [x, c('cw', [CLASSES, 3, 1, 1], COLOUR_WEIGHTS.flat()), c('cb', [CLASSES], [COLOUR_BIAS, COLOUR_BIAS, COLOUR_BIAS])], 'score');
  const mask = n('Cast', [n('Greater', [score, c('zero', [], [0])], 'is')], 'mask', [intAttr('to', FLOAT)]);
  // Grids: x + 1 and W − x along W, y + 1 and H − y along H (pixel edges).
  const xs = Array.from({ length: width }, (_, i) => i);
  const ys = Array.from({ length: height }, (_, i) => i);
  // opset 17: ReduceMax takes its axes as an attribute.
  const reduceMax = (t: string, ax: number[], out: string) => n('ReduceMax', [t], out, [intsAttr('axes', ax), intAttr('keepdims', 0)]);
  const edge = (name: string, grid: string) => reduceMax(n('Mul', [mask, grid], `${name}_m`), [2, 3], name);
  const x2 = edge('x2', c('gx1', [1, 1, 1, width], xs.map((i) => i + 1)));
  const x1 = n('Sub', [c('W', [], [width]), edge('wx', c('gwx', [1, 1, 1, width], xs.map((i) => width - i)))], 'x1');
  const y2 = edge('y2', c('gy1', [1, 1, height, 1], ys.map((i) => i + 1)));
  const y1 = n('Sub', [c('H', [], [height]), edge('hy', c('ghy', [1, 1, height, 1], ys.map((i) => height - i)))], 'y1');
  const p = reduceMax(mask, [2, 3], 'p'); // [N, C]
  const half = c('half', [], [0.5]);
  const cxv = n('Mul', [n('Add', [x1, x2], 'sx'), half], 'cx');
  const cyv = n('Mul', [n('Add', [y1, y2], 'sy'), half], 'cy');
  const w = n('Sub', [x2, x1], 'w');
  const h = n('Sub', [y2, y1], 'h');
  const unsqueezed = new Map<string, string>();
  const u1 = (t: string): string => {
    // [N,C] → [N,1,C], once per tensor (node outputs are unique)
    if (!unsqueezed.has(t)) unsqueezed.set(t, n('Unsqueeze', [t, axes(`${t}_u`, [1])], `${t}_1`));
    return unsqueezed.get(t)!;
  };
  const eye = c('eye', [CLASSES, CLASSES], [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const classScores = (pp: string, m: string, name: string) => n('Mul', [u1(pp), m], name); // [N,C(class),C(box)]

  // Candidate sets: [cx, cy, w, h] [N,4,B], presence [N,B], class scores [N,C,B].
  const sets: Array<{ box: string; p: string; cls: string }> = [
    { box: n('Concat', [u1(cxv), u1(cyv), u1(w), u1(h)], 'box_a', [intAttr('axis', 1)]), p, cls: classScores(p, eye, 'cls_a') },
  ];
  if (duplicates) {
    const p9 = n('Mul', [p, c('k09', [], [0.9])], 'p9');
    const w9 = n('Mul', [w, c('k09b', [], [0.9])], 'w9');
    const h9 = n('Mul', [h, c('k09c', [], [0.9])], 'h9');
    sets.push({ box: n('Concat', [u1(cxv), u1(cyv), u1(w9), u1(h9)], 'box_b', [intAttr('axis', 1)]), p: p9, cls: classScores(p9, eye, 'cls_b') });
    const p6 = n('Mul', [p, c('k06', [], [0.6])], 'p6');
    const shift = c('shift', [CLASSES, CLASSES], [0, 0, 1, 1, 0, 0, 0, 1, 0]); // class k+1 on box k
    sets.push({ box: 'box_a', p: p6, cls: classScores(p6, shift, 'cls_c') });
  }
  const cat = (names: string[], out: string, axis: number) => (names.length === 1 ? names[0] : n('Concat', names, out, [intAttr('axis', axis)]));
  const boxes = cat(sets.map((s) => s.box), 'boxes_cxcywh', 2); // [N,4,B]
  const cls = cat(sets.map((s) => s.cls), 'cls_all', 2); // [N,C,B]
  const outputs: onnxProto.onnx.IValueInfoProto[] = [];
  const B = sets.length * CLASSES;

  if (layout === 'yolov8') {
    n('Concat', [boxes, cls], 'output0', [intAttr('axis', 1)]);
    outputs.push(valueInfo('output0', ['N', 4 + CLASSES, B]));
  } else if (layout === 'yolov5') {
    const obj = u1(cat(sets.map((s) => s.p), 'p_all', 1)); // [N,1,B]
    const clsNorm = n('Div', [cls, n('Max', [obj, c('tiny', [], [1e-6])], 'obj_safe')], 'cls_cond'); // class score given an object
    const rows = n('Concat', [boxes, obj, clsNorm], 'rows', [intAttr('axis', 1)]);
    n('Transpose', [rows], 'output0', [intsAttr('perm', [0, 2, 1])]);
    outputs.push(valueInfo('output0', ['N', B, 5 + CLASSES]));
  } else {
    // x1 y1 x2 y2 [N,B,4], best class score [N,B], class [N,B].
    const halfW = n('Mul', [n('Slice', [boxes, axes('s2', [2]), axes('e4', [4]), axes('a1', [1])], 'wh'), half], 'half_wh');
    const centre = n('Slice', [boxes, axes('s0', [0]), axes('e2', [2]), axes('a1b', [1])], 'cxy');
    const xyxy = n('Concat', [n('Sub', [centre, halfW], 'xy1'), n('Add', [centre, halfW], 'xy2')], 'xyxy', [intAttr('axis', 1)]);
    const box = n('Transpose', [xyxy], 'boxes_b', [intsAttr('perm', [0, 2, 1])]);
    const best = reduceMax(cls, [1], 'scores_b');
    const label = n('ArgMax', [cls], 'labels_b', [intAttr('axis', 1), intAttr('keepdims', 0)]);
    if (tensorflow) {
      const yxyx = n('Gather', [box, axes('yx_idx', [1, 0, 3, 2])], 'yxyx', [intAttr('axis', 2)]);
      n('Div', [yxyx, c('hwhw', [4], [height, width, height, width])], 'detection_boxes');
      n('Identity', [best], 'detection_scores');
      n('Cast', [label], 'detection_classes', [intAttr('to', FLOAT)]);
      const found = n('Cast', [n('Greater', [best, 'zero'], 'found_b')], 'found', [intAttr('to', FLOAT)]);
      n('ReduceSum', [found, axes('n_ax', [1])], 'num_detections', [intAttr('keepdims', 0)]);
      outputs.push(
        valueInfo('detection_boxes', ['N', B, 4]),
        valueInfo('detection_classes', ['N', B]),
        valueInfo('detection_scores', ['N', B]),
        valueInfo('num_detections', ['N']),
      );
    } else if (unbatched) {
      n('Squeeze', [box, axes('sq0', [0])], 'boxes');
      n('Squeeze', [best, axes('sq1', [0])], 'scores');
      n('Squeeze', [label, axes('sq2', [0])], 'labels');
      outputs.push(valueInfo('boxes', [B, 4]), valueInfo('scores', [B]), valueInfo('labels', [B], INT64));
    } else {
      n('Identity', [box], 'boxes');
      n('Identity', [best], 'scores');
      n('Identity', [label], 'labels');
      outputs.push(valueInfo('boxes', ['N', B, 4]), valueInfo('scores', ['N', B]), valueInfo('labels', ['N', B], INT64));
    }
  }
  if (featureMaps) {
    n('Unsqueeze', [score, axes('fm_ax', [1])], '345');
    n('Unsqueeze', [mask, axes('fm_ax2', [1])], '403');
    outputs.unshift(valueInfo('345', ['N', 1, CLASSES, height, width]), valueInfo('403', ['N', 1, CLASSES, height, width]));
  }
  return model(`color_box_${layout}`, {
    input: [
      tensorflow
        ? valueInfo('image_tensor', ['N', height, width, 3], onnx.TensorProto.DataType.UINT8)
        : valueInfo('images', unbatched ? [3, height, width] : ['N', 3, height, width]),
    ],
    output: outputs,
    initializer: init,
    node: nodes,
  });
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/**
 * A segmenter of solid colours: classes 0 background, 1 red, 2 green, 3 blue ({@link colorSegmentLabels}). Input
 * `input` [N,3,H,W] ImageNet-normalised (H, W fixed, or free with `size: null`), output `out` [N,4,H/stride,W/stride]
 * logits: 10 × the colour score for each colour, 0 for background, after a stride × stride average pool.
 */
export function colorSegmenter({ size = 64, stride = 4 }: { size?: number | null; stride?: number } = {}): Uint8Array {
  const weights: number[] = [0, 0, 0];
  const bias: number[] = [0];
  for (const w of COLOUR_WEIGHTS) {
    // Logit on normalised x' = (x − m)/s, so x = x'·s + m: weight w·s, bias 10·(b + Σ w·m).
    weights.push(...w.map((v, ch) => 10 * v * STD[ch]));
    bias.push(10 * (COLOUR_BIAS + w.reduce((s, v, ch) => s + v * MEAN[ch], 0)));
  }
  const spatial = size === null ? ['H', 'W'] : [size, size];
  const outSpatial = size === null ? ['h', 'w'] : [size / stride, size / stride];
  return model('color_segmenter', {
    input: [valueInfo('input', ['N', 3, ...spatial])],
    output: [valueInfo('out', ['N', 4, ...outSpatial])],
    initializer: [floatInit('w', [4, 3, 1, 1], weights), floatInit('b', [4], bias)],
    node: [
      node('AveragePool', ['input'], ['pooled'], [intsAttr('kernel_shape', [stride, stride]), intsAttr('strides', [stride, stride])]),
      node('Conv', ['pooled', 'w', 'b'], ['out']),
    ],
  });
}

export function colorSegmentLabels(): Record<string, string> {
  return { '0': 'background', '1': 'red', '2': 'green', '3': 'blue' };
}
