/** Schemas of the Open Inference Protocol v2 (with the binary tensor data extension) and KServe v1 bodies. */
import { DATATYPES } from '../../dataplane/datatypes.ts';
import { ref } from './schemas.ts';
import type { Schema } from './types.ts';

const str = (description?: string): Schema => (description ? { type: 'string', description } : { type: 'string' });
const bool = (description?: string): Schema => (description ? { type: 'boolean', description } : { type: 'boolean' });
const dims = (description: string): Schema => ({ type: 'array', items: { type: 'integer', minimum: 0 }, description });

export const V2_SCHEMAS: Record<string, Schema> = {
  Datatype: { type: 'string', enum: [...DATATYPES], description: 'A v2 tensor datatype (BF16 is refused: onnxruntime-node has no such tensors).' },
  Parameters: {
    type: 'object',
    description: 'Parameters: values are strings, numbers or booleans.',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
  },
  TensorData: {
    type: 'array',
    description: 'Row-major tensor data, flat or nested by the shape: numbers, booleans for BOOL, strings for BYTES.',
    items: { description: 'A number, boolean or string, or a nested array of them.' },
  },
  RequestInput: {
    type: 'object',
    required: ['name', 'shape', 'datatype'],
    properties: {
      name: str('The model input.'),
      shape: dims('The tensor shape.'),
      datatype: ref('Datatype'),
      parameters: {
        type: 'object',
        description: 'binary_data_size (binary tensor data extension): the input\'s bytes follow the JSON header, in input order; then "data" is left out.',
        properties: { binary_data_size: { type: 'integer', minimum: 0 } },
        additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
      },
      data: ref('TensorData'),
    },
  },
  RequestOutput: {
    type: 'object',
    required: ['name'],
    properties: {
      name: str('A model output to return; without an "outputs" list every output is returned.'),
      parameters: {
        type: 'object',
        description: 'binary_data: true returns this output\'s bytes after the JSON header (binary tensor data extension).',
        properties: { binary_data: bool() },
        additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
      },
    },
  },
  InferenceRequest: {
    type: 'object',
    required: ['inputs'],
    properties: {
      id: str('Echoed in the response.'),
      parameters: {
        type: 'object',
        description: 'binary_data_output: true returns every output as binary data.',
        properties: { binary_data_output: bool() },
        additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
      },
      inputs: { type: 'array', minItems: 1, items: ref('RequestInput') },
      outputs: { type: 'array', items: ref('RequestOutput') },
    },
  },
  ResponseOutput: {
    type: 'object',
    required: ['name', 'shape', 'datatype'],
    properties: {
      name: str(),
      shape: dims('The tensor shape.'),
      datatype: ref('Datatype'),
      parameters: {
        type: 'object',
        description: 'binary_data_size: the output\'s bytes follow the JSON header, in output order; then "data" is left out.',
        properties: { binary_data_size: { type: 'integer', minimum: 0 } },
      },
      data: ref('TensorData'),
    },
  },
  InferenceResponse: {
    type: 'object',
    required: ['model_name', 'outputs'],
    properties: {
      model_name: str(),
      model_version: str(),
      id: str('The request\'s id, else the x-request-id.'),
      parameters: ref('Parameters'),
      outputs: { type: 'array', items: ref('ResponseOutput') },
    },
  },
  TensorMetadata: {
    type: 'object',
    required: ['name', 'datatype', 'shape'],
    properties: { name: str(), datatype: ref('Datatype'), shape: { type: 'array', items: { type: 'integer' }, description: '-1 for a dynamic dimension.' } },
  },
  ServerMetadata: {
    type: 'object',
    required: ['name', 'version', 'extensions'],
    properties: { name: str(), version: str(), extensions: { type: 'array', items: { type: 'string' }, example: ['binary_tensor_data', 'model_repository'] } },
  },
  ModelMetadata: {
    type: 'object',
    required: ['name', 'platform', 'inputs', 'outputs'],
    properties: {
      name: str(),
      versions: { type: 'array', items: { type: 'string' } },
      platform: { type: 'string', example: 'onnxruntime_onnx' },
      inputs: { type: 'array', items: ref('TensorMetadata') },
      outputs: { type: 'array', items: ref('TensorMetadata') },
    },
  },
  ModelReady: { type: 'object', required: ['name', 'ready'], properties: { name: str(), ready: bool() } },
  RepositoryIndexRequest: { type: 'object', properties: { ready: bool('Only models that are ready.') } },
  RepositoryIndex: {
    type: 'array',
    items: {
      type: 'object',
      required: ['name', 'state'],
      properties: {
        name: str(),
        version: str(),
        state: { type: 'string', enum: ['READY', 'LOADING', 'UNLOADING', 'UNAVAILABLE'] },
        reason: str(),
      },
    },
  },
  RepositoryLoadRequest: { type: 'object', properties: { parameters: { type: 'object', description: 'Load parameters: "config", a Triton model config as JSON (a string or an object), replaces config.pbtxt of a repository model and reloads it; "file:…" is refused (put the files in the model repository).' } } },
  V1PredictRequest: {
    type: 'object',
    required: ['instances'],
    properties: { instances: { type: 'array', items: { description: 'For a single-input model served by the tensor handler, a row of the one input tensor (the rows are stacked and run once); otherwise one request to the model\'s handler (its data).' } } },
  },
  V1PredictResponse: {
    type: 'object',
    required: ['predictions'],
    properties: {
      predictions: { type: 'array', items: { description: 'The handler\'s answer per instance, in order: JSON, text, or {"b64": …} for bytes.' } },
    },
  },
  V1Models: { type: 'object', required: ['models'], properties: { models: { type: 'array', items: { type: 'string' } } } },
};
