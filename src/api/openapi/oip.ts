/** KServe v1 and the Open Inference Protocol v2 (binary tensor data and model repository extensions). Errors: `{error}`. */
import { errors, INFERENCE_ERRORS, json, NAME, ok, ref, VERSION } from './schemas.ts';
import type { Operation, Parameter, PathItem, Schema } from './types.ts';

const HEADER_LENGTH: Parameter = {
  name: 'Inference-Header-Content-Length',
  in: 'header',
  required: false,
  description:
    'Binary tensor data extension: the body is a JSON header of this many bytes, then the binary inputs in order. ' +
    '0: the whole body is the raw data of the model\'s single input (batch 1); every output comes back binary.',
  schema: { type: 'integer', minimum: 0 },
};

/** `POST …/infer`; a per-model description passes schemas for that model's inputs and outputs. */
export function v2InferOperation(operationId: string, params: Parameter[], request: Schema = ref('InferenceRequest'), response: Schema = ref('InferenceResponse')): Operation {
  return {
    operationId,
    tags: ['Open Inference Protocol v2'],
    summary: 'Infer',
    description:
      'The model runs on the given tensors (the handler\'s hooks are skipped unless it takes v2 requests); requests with the same ' +
      'inputs, datatypes, shapes beyond the first dimension and outputs may share a batch. A shape or datatype that does not ' +
      'match the model is a 400 naming the input, the expected and the given.',
    parameters: [...params, HEADER_LENGTH],
    requestBody: {
      required: true,
      content: {
        'application/json': { schema: request },
        'application/octet-stream': {
          schema: { type: 'string', format: 'binary', description: 'With Inference-Header-Content-Length: the JSON header (an InferenceRequest), then the binary tensors (BYTES elements with 4-byte little-endian length prefixes).' },
        },
      },
    },
    responses: {
      200: {
        description: 'The outputs. When some output is binary the body is the JSON header, then those outputs\' bytes.',
        headers: { 'Inference-Header-Content-Length': { description: 'Set when binary outputs follow: the JSON header\'s length.', schema: { type: 'integer' } } },
        content: { 'application/json': { schema: response }, 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      },
      ...errors('protocol', INFERENCE_ERRORS),
    },
  };
}

const v2 = (operationId: string, summary: string, responses: Operation['responses'], extra: Partial<Operation> = {}): Operation => ({
  operationId,
  tags: ['Open Inference Protocol v2'],
  summary,
  ...extra,
  responses,
});

const STATS: Schema = { type: 'object', required: ['model_stats'], properties: { model_stats: { type: 'array', items: { type: 'object' } } } };

const READY = { description: 'true when ready (200), false when not (400).' };

function modelPaths(base: string, params: Parameter[], suffix: string): Record<string, PathItem> {
  return {
    [base]: { get: v2(`modelMetadata${suffix}`, 'Model metadata', { 200: ok('Inputs and outputs from the ONNX model: -1 for dynamic dimensions.', ref('ModelMetadata')), ...errors('protocol', [404]) }, { parameters: params }) },
    [`${base}/ready`]: {
      get: v2(`modelReady${suffix}`, 'Model readiness', { 200: ok('Ready: loaded with a ready worker.', ref('ModelReady')), 400: ok(`Not ready; ${READY.description}`, ref('ModelReady')), ...errors('protocol', [404]) }, { parameters: params }),
    },
    [`${base}/infer`]: { post: v2InferOperation(`modelInfer${suffix}`, params) },
    [`${base}/config`]: {
      get: v2(`modelConfig${suffix}`, "Triton's model configuration", { 200: ok("The protobuf JSON of Triton's ModelConfig: config.pbtxt completed from the model (archives: derived from the model and its settings).", { type: 'object' }), ...errors('protocol', [404]) }, { parameters: params }),
    },
    [`${base}/stats`]: {
      get: v2(`modelStatistics${suffix}`, "Triton's inference statistics", { 200: ok('Cumulative counts and nanoseconds per ready version.', STATS), ...errors('protocol', [400]) }, { parameters: params }),
    },
  };
}

export function kserveV1Paths(): Record<string, PathItem> {
  const tags = ['KServe v1'];
  return {
    '/v1/models': { get: { operationId: 'v1ListModels', tags, summary: 'List the models', responses: { 200: ok('Model names.', ref('V1Models')) } } },
    '/v1/models/{name}': {
      get: { operationId: 'v1ModelReady', tags, summary: 'Model readiness', parameters: [NAME], responses: { 200: ok('Whether the model is ready.', ref('ModelReady')), ...errors('protocol', [404]) } },
    },
    '/v1/models/{name}:predict': {
      post: {
        operationId: 'v1Predict',
        tags,
        summary: 'Predict',
        description: 'Each instance is one request to the model\'s handler (its data), queued and batched like any other; one failing instance fails the call with its status.',
        parameters: [NAME],
        requestBody: { required: true, content: json(ref('V1PredictRequest'), { instances: [{ x: [1, 2, 3, 4] }] }) },
        responses: { 200: ok('The predictions, in instance order.', ref('V1PredictResponse')), ...errors('protocol', INFERENCE_ERRORS) },
      },
    },
  };
}

export function oipV2Paths(): Record<string, PathItem> {
  const repo = (operationId: string, summary: string, schema: Schema, extra: Partial<Operation>, codes: number[]): Operation =>
    v2(operationId, summary, { 200: ok(summary, schema), ...errors('protocol', codes) }, { tags: ['Model repository'], ...extra });
  const optionalJson = (name: string) => ({ requestBody: { required: false, content: json(ref(name)) } });
  const status = (key: 'load' | 'unload'): Schema => ({ type: 'object', required: ['name', key], properties: { name: { type: 'string' }, [key]: { type: 'boolean' } } });
  return {
    '/v2': { get: v2('serverMetadata', 'Server metadata', { 200: ok('Name, version and extensions.', ref('ServerMetadata')) }) },
    '/v2/health/live': {
      get: v2('serverLive', 'Server liveness', { 200: ok('Live.', { type: 'object', required: ['live'], properties: { live: { type: 'boolean' } } }) }),
    },
    '/v2/health/ready': {
      get: v2('serverReady', 'Server readiness', {
        200: ok('Ready: start-up finished and every model has its minimum of ready workers.', { type: 'object', properties: { ready: { type: 'boolean' } } }),
        400: ok('Not ready.', { type: 'object', properties: { ready: { type: 'boolean' } } }),
      }),
    },
    '/v2/models/stats': { get: v2('allModelStatistics', "Triton's inference statistics of every ready model version", { 200: ok('Cumulative counts and nanoseconds per ready version.', STATS) }) },
    ...modelPaths('/v2/models/{name}', [NAME], ''),
    ...modelPaths('/v2/models/{name}/versions/{version}', [NAME, VERSION], 'Version'),
    '/v2/repository/index': {
      post: repo('repositoryIndex', 'Every registered version and every model store archive not loaded', ref('RepositoryIndex'), optionalJson('RepositoryIndexRequest'), [400]),
    },
    '/v2/repository/models/{name}/load': {
      post: repo('repositoryLoad', 'Load the model store\'s {name}.mar (or folder {name})', status('load'), { parameters: [NAME], ...optionalJson('RepositoryLoadRequest') }, [400, 404, 405, 500]),
    },
    '/v2/repository/models/{name}/unload': {
      post: repo('repositoryUnload', 'Unload every version of the model', status('unload'), { parameters: [NAME], requestBody: { required: false, content: json({ type: 'object' }) } }, [400, 404, 405]),
    },
  };
}
