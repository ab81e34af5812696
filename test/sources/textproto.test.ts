import { expect } from 'chai';
import { ServeError } from '../../src/errors.ts';
import { fromText, toProtoJson } from '../../src/sources/pbschema.ts';
import { parseTextFormat } from '../../src/sources/textproto.ts';
import { parseConfigJson, parseConfigText } from '../../src/sources/triton-config.ts';
import { MODEL_CONFIG } from '../../src/sources/triton-schema.ts';

const parse = (text: string) => parseConfigText(text, 'm/config.pbtxt');
const refusal = (text: string): string => {
  try {
    parse(text);
  } catch (err) {
    expect(err).to.be.instanceOf(ServeError);
    expect((err as ServeError).status).to.equal(400);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

// The examples are the configurations shown in Triton's model_configuration.md, batcher.md and model_management.md.
describe('config.pbtxt: protobuf text format', () => {
  it('reads the minimal configuration example with inputs, outputs and max_batch_size', () => {
    const cfg = parse(`
      platform: "tensorrt_plan"
      max_batch_size: 8
      input [
        {
          name: "input0"
          data_type: TYPE_FP32
          dims: [ 16 ]
        },
        {
          name: "input1"
          data_type: TYPE_FP32
          dims: [ 16 ]
        }
      ]
      output [
        {
          name: "output0"
          data_type: TYPE_FP32
          dims: [ 16 ]
        }
      ]`);
    expect(cfg).to.deep.equal({
      platform: 'tensorrt_plan',
      max_batch_size: 8,
      input: [
        { name: 'input0', data_type: 'TYPE_FP32', dims: [16] },
        { name: 'input1', data_type: 'TYPE_FP32', dims: [16] },
      ],
      output: [{ name: 'output0', data_type: 'TYPE_FP32', dims: [16] }],
    });
  });

  it('reads reshape, version policies, instance groups, dynamic batching, parameters and warm-up', () => {
    const cfg = parse(`
      name: "m" # the model's folder name
      backend: "onnxruntime"
      input [ { name: "in" data_type: TYPE_INT64 dims: [ 1 ] reshape: { shape: [ ] } } ]
      version_policy: { specific: { versions: [1,3]}}
      instance_group [
        { count: 1 kind: KIND_GPU gpus: [ 0 ] },
        { count: 2, kind: KIND_GPU, gpus: [ 1, 2 ] }
      ]
      dynamic_batching {
        preferred_batch_size: [ 4, 8 ]
        max_queue_delay_microseconds: 100
        default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 5000 allow_timeout_override: true max_queue_size: 10 }
      }
      parameters { key: "intra_op_thread_count" value: { string_value: "0" } }
      parameters: { key: "cudnn_conv_algo_search" value: { string_value: 'HEURISTIC' } };
      model_warmup [{
        name : "regular sample"
        batch_size: 1
        inputs {
          key: "in"
          value: { data_type: TYPE_INT64 dims: [ 4 ] zero_data: true }
        }
      }]
      optimization { execution_accelerators {
        gpu_execution_accelerator : [ {
          name : "tensorrt"
          parameters { key: "precision_mode" value: "FP16" }
        }]
      }}`);
    expect(cfg.input).to.deep.equal([{ name: 'in', data_type: 'TYPE_INT64', dims: [1], reshape: {} }]);
    expect(cfg.version_policy).to.deep.equal({ specific: { versions: [1, 3] } });
    expect(cfg.instance_group).to.deep.equal([
      { count: 1, kind: 'KIND_GPU', gpus: [0] },
      { count: 2, kind: 'KIND_GPU', gpus: [1, 2] },
    ]);
    expect(cfg.dynamic_batching).to.deep.equal({
      preferred_batch_size: [4, 8],
      max_queue_delay_microseconds: 100,
      default_queue_policy: { timeout_action: 'DELAY', default_timeout_microseconds: 5000, allow_timeout_override: true, max_queue_size: 10 },
    });
    expect(cfg.parameters).to.deep.equal({ intra_op_thread_count: { string_value: '0' }, cudnn_conv_algo_search: { string_value: 'HEURISTIC' } });
    expect(cfg.model_warmup).to.deep.equal([
      { name: 'regular sample', batch_size: 1, inputs: { in: { data_type: 'TYPE_INT64', dims: [4], zero_data: true } } },
    ]);
    expect(cfg.optimization).to.deep.equal({
      execution_accelerators: { gpu_execution_accelerator: { name: 'tensorrt', parameters: { key: 'precision_mode', value: 'FP16' } } },
    });
  });

  it('reads the other spellings of the syntax: angle brackets, empty lists, escapes, joined strings, hex, negatives', () => {
    const cfg = parse(`name: 'a\\x41\\101\\n' "b"  input < name: "x" dims: -1 dims: 0x10 dims: [] > version_policy { all {} }`);
    expect(cfg.name).to.equal('aAA\nb');
    expect(cfg.input).to.deep.equal([{ name: 'x', dims: [-1, 16] }]);
    expect(cfg.version_policy).to.deep.equal({ all: {} });
    const tree = parseTextFormat('f: 1.5e3f g: -inf h: nan');
    expect(tree.fields.map((f) => f.value)).to.deep.equal([
      { kind: 'number', text: '1.5e3f' },
      { kind: 'number', text: '-inf' },
      { kind: 'number', text: 'nan' },
    ]);
  });

  it('refuses broken syntax and wrong fields, naming the line and the field', () => {
    expect(refusal('max_batch_size: 8\ninput [ { name: "x" ]')).to.equal('m/config.pbtxt: line 2: expected a field name, found "]"');
    expect(refusal('max_batch_sise: 8')).to.equal('m/config.pbtxt: line 1: max_batch_sise: unknown field "max_batch_sise"');
    expect(refusal('input { name: "x" data_type: TYPE_FLOAT32 }')).to.match(/line 1: input\[0\]\.data_type: "TYPE_FLOAT32" is not one of TYPE_INVALID, TYPE_BOOL/);
    expect(refusal('max_batch_size: "8"')).to.match(/max_batch_size: expected a number \(int32\), got the string "8"/);
    expect(refusal('max_batch_size: 3000000000')).to.match(/max_batch_size: 3000000000 is out of range for int32/);
    expect(refusal('name: "a"\nname: "b"')).to.match(/line 2: name: is set more than once/);
    expect(refusal('dynamic_batching {}\nsequence_batching {}')).to.match(/sequence_batching: cannot be set together with "dynamic_batching"/);
    expect(refusal('name: "never closed')).to.match(/line 1: a string is not closed/);
    expect(refusal('input { name: "x" dims: 1.5 }')).to.match(/input\[0\]\.dims\[0\]: "1.5" is not an integer/);
    expect(refusal('version_policy { latest 2 }')).to.match(/expected ":" or "\{" after the field name/);
  });

  it('takes the JSON form (proto or lowerCamel names) with the same checks', () => {
    expect(parseConfigJson('{"max_batch_size": 2, "input": [{"name": "x", "dataType": "TYPE_FP32", "dims": ["3"]}]}', 'm')).to.deep.equal({
      max_batch_size: 2,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [3] }],
    });
    expect(() => parseConfigJson({ input: [{ nme: 'x' }] }, 'm')).to.throw('m: config input[0].nme: unknown field "nme" in input[0]');
    expect(() => parseConfigJson('{', 'm')).to.throw(/the config is not JSON/);
  });

  it("prints Triton's JSON: proto names, defaults of unset primitives, 64-bit as strings except the ones Triton fixes", () => {
    const cfg = fromText(parseTextFormat('max_batch_size: 4 input { name: "x" data_type: TYPE_FP32 dims: [3] } dynamic_batching { }'), MODEL_CONFIG);
    const json = toProtoJson(cfg, MODEL_CONFIG);
    expect(json).to.include({ name: '', platform: '', backend: '', max_batch_size: 4, default_model_filename: '' });
    expect(json).to.not.have.property('version_policy');
    expect(json).to.not.have.property('sequence_batching');
    expect((json.input as unknown[])[0]).to.deep.equal({
      name: 'x', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [3], is_shape_tensor: false, allow_ragged_batch: false,
      optional: false, is_non_linear_format_io: false,
    });
    expect(json.dynamic_batching).to.deep.equal({
      preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0,
      default_priority_level: 0, priority_queue_policy: {},
    });
    expect(json).to.deep.include({ output: [], instance_group: [], parameters: {}, model_warmup: [], metric_tags: {} });
  });
});
