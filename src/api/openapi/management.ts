/** The management API's OpenAPI 3.0.1 document: TorchServe's model endpoints and `GET /token`. */
import type { DescriptionOptions } from './inference.ts';
import { COMMON_SCHEMAS, descriptionPaths, errors, info, NAME, ok, pathParam, query, ref } from './schemas.ts';
import { withTokens } from './security.ts';
import type { Document, Operation, Parameter, RequestBody, Schema } from './types.ts';

const int = (extra: Partial<Schema> = {}): Schema => ({ type: 'integer', ...extra });
const bool = (dflt: boolean): Schema => ({ type: 'boolean', default: dflt });
const str = (): Schema => ({ type: 'string' });

const REGISTER: Parameter[] = [
  query('url', str(), 'A model archive in the model store (file name), or an http(s) URL allowed by allowed_urls.', true),
  query('model_name', str(), 'The model name; default: the archive\'s.'),
  query('handler', str(), 'The handler; default: the archive\'s.'),
  query('batch_size', int({ minimum: 1 }), 'Requests per batch; default: model-config.yaml, else the server\'s batch_size (1).'),
  query('max_batch_delay', int({ minimum: 0 }), 'Milliseconds a batch may wait to fill; default: model-config.yaml, else the server\'s.'),
  query('response_timeout', int(), 'Seconds; -1 or absent: the configured default_response_timeout.'),
  query('initial_workers', int({ minimum: 0 }), 'Workers to start; default: default_workers_per_model.'),
  query('synchronous', bool(true), 'Wait until the workers are up (200), or answer 202 at once.'),
  query('startup_timeout', int({ minimum: 1 }), 'Seconds a synchronous registration waits for its workers (500 past it); default: default_startup_timeout.'),
  query('runtime', { type: 'string', enum: ['node'] }, 'TorchServe\'s runtime; the only one is node (anything else is a 400).'),
];

const SCALE: Parameter[] = [
  query('min_worker', int({ minimum: 0, default: 1 }), 'The minimum number of workers.'),
  query('max_worker', int({ minimum: 0 }), 'The maximum number of workers; default: min_worker.'),
  query('synchronous', bool(false), 'Wait until the workers are scaled (200), or answer 202 at once.'),
];

/** The same parameters may come as a JSON object or a form instead of the query string (the query wins). */
function paramsBody(params: Parameter[]): RequestBody {
  const schema: Schema = {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
    ...(params.some((p) => p.required) ? { required: params.filter((p) => p.required).map((p) => p.name) } : {}),
  };
  return {
    required: false,
    description: 'The query parameters may be sent as a JSON object or a form instead; a query parameter wins.',
    content: { 'application/json': { schema }, 'application/x-www-form-urlencoded': { schema } },
  };
}

const SCHEMAS: Record<string, Schema> = {
  ModelList: {
    type: 'object',
    required: ['models'],
    properties: {
      nextPageToken: { type: 'string', description: 'Present when more models follow: pass it as next_page_token.' },
      models: { type: 'array', items: { type: 'object', required: ['modelName', 'modelUrl'], properties: { modelName: str(), modelUrl: str() } } },
    },
  },
  ModelDescription: {
    type: 'object',
    required: ['modelName', 'modelVersion', 'modelUrl', 'minWorkers', 'maxWorkers', 'batchSize', 'maxBatchDelay', 'workers'],
    properties: {
      ...Object.fromEntries(['modelName', 'modelVersion', 'modelUrl', 'runtime', 'handler', 'deviceType', 'state', 'failureReason'].map((k) => [k, str()])),
      ...Object.fromEntries(['minWorkers', 'maxWorkers', 'batchSize', 'maxBatchDelay', 'responseTimeout', 'intraOpThreads'].map((k) => [k, int()])),
      loadedAtStartup: { type: 'boolean' },
      isDefault: { type: 'boolean' },
      workers: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: { type: 'string', example: '9000' },
            startTime: { type: 'string', format: 'date-time' },
            status: { type: 'string', enum: ['READY', 'UNLOADING', 'FAILED'] },
            memoryUsage: int(),
            pid: int(),
            gpu: { type: 'boolean' },
            gpuUsage: str(),
          },
        },
      },
      jobQueueStatus: { type: 'object', properties: { remainingCapacity: int(), pendingRequests: int() } },
    },
  },
  Token: {
    type: 'object',
    description: 'The replaced key, in the key file\'s shape, under "management" or "inference".',
    additionalProperties: { type: 'object', properties: { key: str(), 'expiration time': { type: 'string', format: 'date-time' } } },
  },
};

const tags = ['Management'];
const status = (description: string, example: string) => ok(description, ref('Status'), { status: example });
const ACCEPTED = status('Accepted: the workers are being updated.', 'Processing worker updates...');

function describe(operationId: string, parameters: Parameter[], summary: string): Operation {
  return { operationId, tags, summary, parameters, responses: { 200: ok('One description per version.', { type: 'array', items: ref('ModelDescription') }), ...errors('torchserve', [404]) } };
}

function scale(operationId: string, path: Parameter[], extra: Parameter[] = []): Operation {
  return {
    operationId,
    tags,
    summary: 'Scale the workers of a model version',
    parameters: [...path, ...SCALE, ...extra],
    requestBody: paramsBody([...SCALE, ...extra]),
    responses: { 200: status('Scaled.', 'Workers scaled to 2 for model: colors'), 202: ACCEPTED, ...errors('torchserve', [400, 404, 415]) },
  };
}

function unregister(operationId: string, parameters: Parameter[]): Operation {
  return {
    operationId,
    tags,
    summary: 'Unregister a model version (model API)',
    parameters,
    responses: {
      200: status('Unregistered.', 'Model "colors" unregistered'),
      ...errors('torchserve', [403, 404, 405], { 403: 'The default version cannot go while other versions remain: set another default first.' }),
    },
  };
}

export function managementDocument(opts: DescriptionOptions & { tokenApi: boolean }): Document {
  const VERSIONED = [NAME, pathParam('version', 'The model version.')];
  const doc: Document = {
    openapi: '3.0.1',
    info: info('modelserver management API', 'TorchServe\'s management API: register, describe, scale and unregister models. Errors are {"code","type","message"}.'),
    tags: [{ name: 'Description' }, { name: 'Management' }, ...(opts.tokenApi ? [{ name: 'Token authorization' }] : [])],
    paths: {
      ...descriptionPaths('management'),
      '/models': {
        get: {
          operationId: 'listModels',
          tags,
          summary: 'List the models (default versions), sorted',
          parameters: [
            query('limit', int({ minimum: 0, maximum: 100, default: 100 }), 'Page size (at most 100).'),
            query('next_page_token', { type: 'string', default: '0' }, 'Where the page starts, from the previous page.'),
          ],
          responses: { 200: ok('A page of models.', ref('ModelList')), ...errors('torchserve', [400]) },
        },
        post: {
          operationId: 'registerModel',
          tags,
          summary: 'Register a model (model API: needs enable_model_api=true)',
          parameters: REGISTER,
          requestBody: paramsBody(REGISTER),
          responses: {
            200: status('Registered.', 'Model "colors" Version: 1.0 registered with 1 initial workers'),
            202: ACCEPTED,
            ...errors('torchserve', [400, 404, 405, 409, 415, 500]),
          },
        },
      },
      '/models/{name}': {
        get: describe('describeModel', [NAME], 'Describe the default version'),
        put: scale('setAutoScale', [NAME], [query('model_version', str(), 'The version to scale; default: the default version.')]),
        delete: unregister('unregisterModel', [NAME]),
      },
      '/models/{name}/{version}': {
        get: describe('describeModelVersion', [NAME, pathParam('version', 'A model version, or "all" for every version.')], 'Describe a version, or all'),
        put: scale('setAutoScaleVersion', VERSIONED),
        delete: unregister('unregisterModelVersion', VERSIONED),
      },
      '/models/{name}/{version}/set-default': {
        put: {
          operationId: 'setDefault',
          tags,
          summary: 'Make a version the default',
          parameters: VERSIONED,
          responses: { 200: status('Updated.', 'Default version successfully updated for model "colors" to "2.0"'), ...errors('torchserve', [404]) },
        },
      },
      ...(opts.tokenApi && {
        '/token': {
          get: {
            operationId: 'replaceKey',
            tags: ['Token authorization'],
            summary: 'Replace the management or inference key (with the API key)',
            parameters: [query('type', { type: 'string', enum: ['management', 'inference'] }, 'The key to replace.', true)],
            responses: {
              200: ok('The new key and its expiry; the key file is updated.', ref('Token'), { management: { key: '…', 'expiration time': '2030-01-01T00:30:00.000Z' } }),
              ...errors('torchserve', [400, 404], { 404: 'Token authorization is off: there are no keys.' }),
            },
          },
        },
      }),
    },
    components: { schemas: { ...COMMON_SCHEMAS, ...SCHEMAS } },
  };
  return withTokens(doc, 'management', opts.tokens);
}
