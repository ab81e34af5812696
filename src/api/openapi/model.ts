/**
 * One model version's own OpenAPI document (`OPTIONS /predictions/{model}[/{version}]`, as in TorchServe): its
 * prediction, KServe v1 and v2 inference paths, the v2 request and response schemas built from the ONNX model's
 * inputs and outputs (names, datatypes, ranks; -1 in a model shape is any size).
 */
import type { TensorInfo } from '../../pool/messages.ts';
import type { ModelVersion } from '../../registry/model-version.ts';
import { v2Datatype, v2Shape } from '../../dataplane/validate.ts';
import { kserveV1Paths, v2InferOperation } from './oip.ts';
import { COMMON_SCHEMAS, info, ref } from './schemas.ts';
import { predictionOperation } from './torchserve-inference.ts';
import type { Document, PathItem, Schema } from './types.ts';
import { V2_SCHEMAS } from './v2-schemas.ts';

function tensorSchema(t: TensorInfo, withData: 'request' | 'response'): Schema {
  const shape = v2Shape(t);
  const datatype = v2Datatype(t);
  const size = withData === 'request' ? 'binary_data_size: its bytes follow the JSON header instead of "data".' : 'binary_data_size when sent as binary.';
  return {
    type: 'object',
    description: `${withData === 'request' ? 'Input' : 'Output'} "${t.name}": ${datatype || t.type || 'not a tensor'} of shape [${shape.join(', ')}].`,
    required: ['name', 'shape', 'datatype'],
    properties: {
      name: { type: 'string', enum: [t.name] },
      datatype: datatype ? { type: 'string', enum: [datatype] } : ref('Datatype'),
      shape: {
        type: 'array',
        items: { type: 'integer', minimum: 0 },
        ...(shape.length ? { minItems: shape.length, maxItems: shape.length } : {}),
        description: `The model's shape is [${shape.join(', ')}]; -1 takes any size.`,
      },
      parameters: { type: 'object', description: size, properties: { binary_data_size: { type: 'integer', minimum: 0 } } },
      data: ref('TensorData'),
    },
  };
}

function ioSchemas(mv: ModelVersion): Record<string, Schema> {
  const io = mv.io;
  if (!io || io.acceptsV2Requests) return {};
  const names = io.outputs.map((o) => o.name);
  return {
    ModelInferenceRequest: {
      type: 'object',
      required: ['inputs'],
      properties: {
        id: { type: 'string' },
        parameters: ref('Parameters'),
        inputs: {
          type: 'array',
          minItems: io.inputs.length,
          maxItems: io.inputs.length,
          description: `Every input of the model, once: ${io.inputs.map((i) => i.name).join(', ')}.`,
          items: { oneOf: io.inputs.map((t) => tensorSchema(t, 'request')) },
        },
        outputs: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string', enum: names }, parameters: { type: 'object', properties: { binary_data: { type: 'boolean' } } } },
          },
        },
      },
    },
    ModelInferenceResponse: {
      type: 'object',
      required: ['model_name', 'outputs'],
      properties: {
        model_name: { type: 'string', enum: [mv.name] },
        model_version: { type: 'string', enum: [mv.version] },
        id: { type: 'string' },
        outputs: { type: 'array', items: { oneOf: io.outputs.map((t) => tensorSchema(t, 'response')) } },
      },
    },
  };
}

export function modelDocument(mv: ModelVersion): Document {
  const schemas = ioSchemas(mv);
  const typed = 'ModelInferenceRequest' in schemas;
  const infer = (operationId: string) =>
    typed ? v2InferOperation(operationId, [], ref('ModelInferenceRequest'), ref('ModelInferenceResponse')) : v2InferOperation(operationId, []);
  const enc = encodeURIComponent;
  const [name, version] = [enc(mv.name), enc(mv.version)];
  const v1 = kserveV1Paths()['/v1/models/{name}:predict'].post!;
  const paths: Record<string, PathItem> = {
    [`/predictions/${name}`]: { post: predictionOperation('predictions', 'POST', []), put: predictionOperation('predictionsPut', 'PUT', []) },
    [`/predictions/${name}/${version}`]: {
      post: predictionOperation('versionPredictions', 'POST', []),
      put: predictionOperation('versionPredictionsPut', 'PUT', []),
    },
    [`/v1/models/${name}:predict`]: { post: { ...v1, parameters: [] } },
    [`/v2/models/${name}/infer`]: { post: infer('modelInfer') },
    [`/v2/models/${name}/versions/${version}/infer`]: { post: infer('modelInferVersion') },
  };
  return {
    openapi: '3.0.1',
    info: info(
      `modelserver: model "${mv.name}" version ${mv.version}`,
      `Handler ${mv.handler}. ${typed ? 'The v2 schemas name the ONNX model\'s own inputs and outputs.' : 'The handler takes the v2 requests itself, or the model reports no inputs: the v2 schemas are the generic ones.'} ` +
        'Paths without a version go to the default version.',
    ),
    paths,
    components: { schemas: { ...COMMON_SCHEMAS, ...V2_SCHEMAS, ...schemas } },
  };
}
