/** TorchServe's inference routes: `/ping` and `/predictions/{model}[/{version}]` (POST, PUT, and OPTIONS per model). */
import { errors, INFERENCE_ERRORS, MODEL, MODEL_VERSION, ok, ref } from './schemas.ts';
import type { Operation, Parameter, PathItem, RequestBody } from './types.ts';

const PREDICTION_BODY: RequestBody = {
  description:
    'The input, as the model\'s handler expects it. multipart/form-data or a form: each field reaches the handler by its name ' +
    '(the handler\'s data is the `data` field, else `body`, else the first); application/json is parsed; text/* is decoded; ' +
    'any other body goes to the handler as raw bytes.',
  required: false,
  content: {
    'multipart/form-data': {
      schema: { type: 'object', properties: { data: { type: 'string', format: 'binary', description: 'The input (a file or a text field).' } } },
    },
    'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: { type: 'string' } } },
    'application/json': { schema: { description: 'Any JSON value.' } },
    'text/plain': { schema: { type: 'string' } },
    'application/octet-stream': { schema: { type: 'string', format: 'binary', description: 'Raw bytes (an image, …): any other content type.' } },
  },
};

/** One prediction call; `params` are the path parameters it takes (none for a per-model description's fixed paths). */
export function predictionOperation(operationId: string, method: 'POST' | 'PUT', params: Parameter[]): Operation {
  return {
    operationId,
    tags: ['Inference'],
    summary: `Run the model on one request (${method})`,
    description:
      'The request is queued and may share a batch with others; the handler\'s answer comes back with the status, content type and ' +
      'headers the handler set. Query parameters and headers reach the handler too.',
    ...(params.length ? { parameters: params } : {}),
    requestBody: PREDICTION_BODY,
    responses: {
      200: {
        description: 'The handler\'s answer: JSON, text or bytes.',
        headers: { 'x-request-id': { description: 'The request id (taken from the request when given).', schema: { type: 'string' } } },
        content: {
          'application/json': { schema: { description: 'The handler\'s JSON result.' } },
          'text/plain': { schema: { type: 'string' } },
          'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
        },
      },
      ...errors('torchserve', INFERENCE_ERRORS),
    },
  };
}

function modelDescriptionOperation(operationId: string, params: Parameter[]): Operation {
  return {
    operationId,
    tags: ['Description'],
    summary: 'The model\'s own OpenAPI description',
    description: 'Its prediction, KServe v1 and v2 paths, with the v2 request and response schemas of the model\'s inputs and outputs.',
    parameters: params,
    responses: { 200: ok('The OpenAPI document of this model version.', ref('OpenApiDocument')), ...errors('torchserve', [404]) },
  };
}

export function torchServeInferencePaths(): Record<string, PathItem> {
  return {
    '/ping': {
      get: {
        operationId: 'ping',
        tags: ['Health'],
        summary: 'Health check',
        description:
          'Healthy when start-up has finished, every model has its minimum of ready workers and (strict_readiness, the default) ' +
          'every model named at start loaded. Unhealthy says why when a model named at start failed (`reason`).',
        responses: {
          200: ok('Healthy.', ref('Status'), { status: 'Healthy' }),
          500: ok('Unhealthy.', {
            type: 'object',
            required: ['status'],
            properties: {
              status: { type: 'string', enum: ['Unhealthy'] },
              reason: { type: 'string', description: 'The models named at start that failed to load, with why.' },
            },
          }, { status: 'Unhealthy', reason: 'model "mlp" named at start failed to load: model archive "mlp.mar" not found in the model store' }),
        },
      },
    },
    '/predictions/{model}': {
      post: predictionOperation('predictions', 'POST', [MODEL]),
      put: predictionOperation('predictionsPut', 'PUT', [MODEL]),
      options: modelDescriptionOperation('modelApiDescription', [MODEL]),
    },
    '/predictions/{model}/{version}': {
      post: predictionOperation('versionPredictions', 'POST', [MODEL, MODEL_VERSION]),
      put: predictionOperation('versionPredictionsPut', 'PUT', [MODEL, MODEL_VERSION]),
      options: modelDescriptionOperation('versionModelApiDescription', [MODEL, MODEL_VERSION]),
    },
  };
}
