/** Building blocks shared by the OpenAPI documents: error bodies, JSON content, parameters, info, the description routes. */
import { serverMetadata } from '../../dataplane/metadata.ts';
import type { Document, MediaType, Parameter, PathItem, Response, Schema } from './types.ts';

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

export const COMMON_SCHEMAS: Record<string, Schema> = {
  TorchServeError: {
    type: 'object',
    description: 'TorchServe\'s error body, on every route outside /v1 and /v2.',
    required: ['code', 'type', 'message'],
    properties: {
      code: { type: 'integer', description: 'The HTTP status.', example: 404 },
      type: { type: 'string', example: 'ModelNotFoundException' },
      message: { type: 'string', example: 'Model not found: colors' },
    },
  },
  ProtocolError: {
    type: 'object',
    description: 'The error body of the KServe v1 and Open Inference Protocol v2 routes.',
    required: ['error'],
    properties: { error: { type: 'string', example: 'model "colors" has no input "x"' } },
  },
  Status: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string' } },
  },
  OpenApiDocument: {
    type: 'object',
    description: 'An OpenAPI 3.0.1 document.',
    required: ['openapi', 'info', 'paths'],
    properties: { openapi: { type: 'string', example: '3.0.1' }, info: { type: 'object' }, paths: { type: 'object' } },
  },
};

export function json(schema: Schema, example?: unknown): Record<string, MediaType> {
  return { 'application/json': example === undefined ? { schema } : { schema, example } };
}

export function ok(description: string, schema?: Schema, example?: unknown): Response {
  return schema ? { description, content: json(schema, example) } : { description };
}

export type ErrorShape = 'torchserve' | 'protocol';

/** The shape of errors on a path: `{error}` under /v1 and /v2, TorchServe's `{code,type,message}` elsewhere. */
export const shapeOf = (path: string): ErrorShape => (/^\/v[12](\/|$)/.test(path) ? 'protocol' : 'torchserve');

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed input or a bad parameter.',
  401: 'Token authorization is on and the bearer token is missing, wrong or expired (WWW-Authenticate: Bearer).',
  403: 'Forbidden.',
  404: 'No such model or version.',
  405: 'Method not allowed, or the model API is disabled (enable_model_api=false).',
  409: 'The model version is already registered.',
  413: 'The request body is larger than max_request_size.',
  415: 'Unsupported content type.',
  500: 'Handler or internal error, or a response over max_response_size.',
  503: 'No ready worker, queue full, or the model is loading or failed; retry after Retry-After seconds.',
  504: 'The model did not answer within its response timeout.',
  507: 'A worker ran out of memory.',
};

export function errorResponse(shape: ErrorShape, code: number, description?: string): Response {
  const r: Response = {
    description: description ?? ERROR_TEXT[code] ?? 'Error.',
    content: json(ref(shape === 'torchserve' ? 'TorchServeError' : 'ProtocolError')),
  };
  if (code === 503) r.headers = { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } };
  if (code === 401) r.headers = { 'WWW-Authenticate': { description: 'Bearer realm="modelserver"', schema: { type: 'string' } } };
  return r;
}

/** Error responses by status (descriptions from the one error table unless given). */
export function errors(shape: ErrorShape, codes: number[], texts: Partial<Record<number, string>> = {}): Record<string, Response> {
  return Object.fromEntries(codes.map((c) => [String(c), errorResponse(shape, c, texts[c])]));
}

/** Errors of a call that runs the model: decoding, lookup, queueing, the handler. */
export const INFERENCE_ERRORS = [400, 404, 413, 415, 500, 503, 504, 507];

export function pathParam(name: string, description: string): Parameter {
  return { name, in: 'path', required: true, description, schema: { type: 'string' } };
}

export function query(name: string, schema: Schema, description: string, required = false): Parameter {
  return { name, in: 'query', required, description, schema };
}

export const MODEL = pathParam('model', 'The model name.');
export const MODEL_VERSION = pathParam('version', 'The model version; without it, the default version.');
export const NAME = pathParam('name', 'The model name.');
export const VERSION = pathParam('version', 'The model version.');

export function info(title: string, description: string): Document['info'] {
  return { title, version: serverMetadata().version, description, license: { name: 'Apache-2.0' } };
}

/** `OPTIONS /` and `GET /api-description`, on both ports (TorchServe's places). */
export function descriptionPaths(api: 'inference' | 'management'): Record<string, PathItem> {
  const op = (operationId: string, summary: string) => ({
    operationId,
    tags: ['Description'],
    summary,
    description: `This ${api} API as an OpenAPI 3.0.1 document; answered without a token, as in TorchServe.`,
    responses: { 200: ok('The OpenAPI document.', ref('OpenApiDocument')), 405: errorResponse('torchserve', 405, 'Another method on / or /api-description (Allow names the one that works).') },
  });
  return {
    '/': {
      options: op('apiDescription', `The ${api} API's OpenAPI description`),
      ...(api === 'inference' && {
        get: {
          operationId: 'alive',
          tags: ['KServe v1'],
          summary: "Liveness (KServe's GET /)",
          description: 'Answered without a token, like /ping.',
          responses: { 200: ok('Alive.', { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['alive'] } } }) },
        },
      }),
    },
    '/api-description': { get: op('getApiDescription', `The ${api} API's OpenAPI description`) },
  };
}
