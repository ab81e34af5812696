/**
 * TorchServe's `ManagementAPIsService` (management.proto) on grpc_management_port: the same operations, checks and
 * texts as the REST management API, with TorchServe's gRPC defaults (a 0 or empty field means "not given";
 * RegisterModel and ScaleWorker are asynchronous unless `synchronous`). Answers are `msg` strings: the status
 * text, or the describe/list JSON. Register and unregister need enable_model_api (else PERMISSION_DENIED).
 */
import type * as grpc from '@grpc/grpc-js';
import { ServeError } from '../../errors.ts';
import type { Registry } from '../../registry/registry.ts';
import { describeVersion } from '../describe.ts';
import type { GrpcFront } from './call.ts';

export interface ManagementDeps {
  registry: Registry;
  modelApi: boolean;
  /** Turns a `url` into a model-store archive name (allowed_urls, download), as for REST. */
  resolveUrl: (url: string) => Promise<string>;
}

const SERVICE = '/org.pytorch.serve.grpc.management.ManagementAPIsService/';
const given = (n: number): number | undefined => (n > 0 ? n : undefined);
const text = (s: string): string | undefined => (s === '' ? undefined : s);
const msg = (m: string) => ({ msg: m });

interface RegisterModelRequest {
  batch_size: number;
  handler: string;
  initial_workers: number;
  max_batch_delay: number;
  model_name: string;
  response_timeout: number;
  runtime: string;
  synchronous: boolean;
  url: string;
  s3_sse_kms: boolean;
  startup_timeout: number;
}

interface ScaleWorkerRequest {
  model_name: string;
  model_version: string;
  max_worker: number;
  min_worker: number;
  number_gpu: number;
  synchronous: boolean;
  timeout: number;
}

export function torchServeManagementService(deps: ManagementDeps, front: GrpcFront): grpc.UntypedServiceImplementation {
  const { registry } = deps;
  const m = (name: string) => SERVICE + name;
  const gate = () => {
    if (!deps.modelApi) throw new ServeError('MethodNotAllowed', 'the model API is disabled: set enable_model_api=true to register or unregister models');
  };
  const name = (n: string) => {
    if (n === '') throw new ServeError('BadRequest', 'Parameter model_name is required.');
    return n;
  };
  return {
    DescribeModel: front.unary(m('DescribeModel'), 'management', (req: { model_name: string; model_version: string }) => {
      const n = name(req.model_name);
      const versions = req.model_version === 'all' ? registry.versionsOf(n) : [registry.get(n, text(req.model_version))];
      return msg(JSON.stringify(versions.map((mv) => describeVersion(registry, mv))));
    }),
    ListModels: front.unary(m('ListModels'), 'management', (req: { limit: number; next_page_token: number }) => {
      const limit = Math.min(given(req.limit) ?? 100, 1000);
      const start = Math.max(0, req.next_page_token);
      const all = registry.list();
      const body: { nextPageToken?: string; models: { modelName: string; modelUrl: string }[] } = {
        models: all.slice(start, start + limit).map((mv) => ({ modelName: mv.name, modelUrl: mv.url })),
      };
      if (start + limit < all.length) body.nextPageToken = String(start + limit);
      return msg(JSON.stringify(body));
    }),
    RegisterModel: front.unary(m('RegisterModel'), 'management', async (req: RegisterModelRequest) => {
      gate();
      if (req.url === '') throw new ServeError('BadRequest', 'Parameter url is required.');
      const url = await deps.resolveUrl(req.url);
      const batchSize = given(req.batch_size);
      const maxBatchDelay = given(req.max_batch_delay);
      const responseTimeout = given(req.response_timeout);
      const mv = await registry.register({
        url,
        modelName: text(req.model_name),
        handler: text(req.handler),
        initialWorkers: given(req.initial_workers),
        synchronous: req.synchronous,
        overrides: {
          ...(batchSize !== undefined && { batchSize }),
          ...(maxBatchDelay !== undefined && { maxBatchDelay }),
          ...(responseTimeout !== undefined && { responseTimeout }),
        },
      });
      if (!req.synchronous) return msg('Processing worker updates...');
      const n = mv.readyWorkers;
      const t = `Model "${mv.name}" Version: ${mv.version} registered with ${n} initial workers`;
      return msg(n === 0 ? `${t}. Use scale workers API to add workers for the model.` : t);
    }),
    ScaleWorker: front.unary(m('ScaleWorker'), 'management', async (req: ScaleWorkerRequest) => {
      const mv = registry.get(name(req.model_name), text(req.model_version));
      const min = given(req.min_worker) ?? 1;
      const max = given(req.max_worker) ?? min;
      if (max < min) throw new ServeError('BadRequest', `max_worker (${max}) must not be less than min_worker (${min})`);
      await registry.scale(mv, min, max, req.synchronous);
      if (!req.synchronous) return msg('Processing worker updates...');
      return msg(`Workers scaled to ${min} for model: ${mv.name}${req.model_version ? `, version: ${mv.version}` : ''}`);
    }),
    SetDefault: front.unary(m('SetDefault'), 'management', (req: { model_name: string; model_version: string }) => {
      const n = name(req.model_name);
      if (req.model_version === '') throw new ServeError('BadRequest', 'Parameter model_version is required.');
      registry.setDefault(n, req.model_version);
      return msg(`Default version successfully updated for model "${n}" to "${req.model_version}"`);
    }),
    UnregisterModel: front.unary(m('UnregisterModel'), 'management', async (req: { model_name: string; model_version: string }) => {
      gate();
      const mv = await registry.unregister(name(req.model_name), text(req.model_version));
      return msg(`Model "${mv.name}" unregistered`);
    }),
  };
}
