/**
 * `inference.GRPCInferenceService` (Triton's grpc_service.proto; KServe's grpc_predict_v2.proto is its first six
 * RPCs) over the data plane: health, metadata, ModelInfer, ModelStreamInfer, model configuration and statistics,
 * the repository extension. Shared memory, tracing and log settings answer UNIMPLEMENTED with a message.
 */
import type * as grpc from '@grpc/grpc-js';
import { modelConfigJson } from '../../dataplane/config.ts';
import { isReady, modelMetadata, serverMetadata } from '../../dataplane/metadata.ts';
import { modelStatistics } from '../../dataplane/statistics.ts';
import { loadModel, repositoryIndex, unloadModel } from '../../dataplane/repository.ts';
import { ServeError } from '../../errors.ts';
import type { GrpcFront } from './call.ts';
import { unimplemented } from './errors.ts';
import { modelStreamInfer } from './triton-stream.ts';
import { modelInfer, type TritonDeps } from './v2-infer.ts';
import type { ModelInferRequest } from './v2-request.ts';

const SERVICE = '/inference.GRPCInferenceService/';

interface NameVersion {
  name: string;
  version: string;
}

interface RepositoryParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'bytes_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  bytes_param?: Buffer;
}

const versionOf = (v: string): string | undefined => (v === '' ? undefined : v);

export function requireName(name: string, field = 'name'): string {
  if (name === '') throw new ServeError('BadRequest', `"${field}" is required: name the model`);
  return name;
}

function repositoryParams(map: Record<string, RepositoryParameter>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(map)) out[k] = p.parameter_choice ? p[p.parameter_choice] : undefined;
  return out;
}

function noRepositoryName(repositoryName: string): void {
  if (repositoryName !== '') {
    throw new ServeError('BadRequest', `repository_name "${repositoryName}" is not supported: the server has one repository (the model repository and the model store together); leave it empty`);
  }
}

export function tritonService(deps: TritonDeps, front: GrpcFront): grpc.UntypedServiceImplementation {
  const { registry } = deps;
  const m = (name: string) => SERVICE + name;
  const gate = () => {
    if (!deps.modelApi) throw new ServeError('MethodNotAllowed', 'the model API is disabled: set enable_model_api=true to load or unload models');
  };
  const notHere = (rpc: string, what: string) =>
    front.unary(m(rpc), 'inference', () => {
      throw unimplemented(`${rpc} is not supported by modelserver: ${what}`);
    });
  return {
    ServerLive: front.unary(m('ServerLive'), 'open', () => ({ live: true })),
    ServerReady: front.unary(m('ServerReady'), 'open', () => ({ ready: deps.healthy() && !front.stopping })),
    ModelReady: front.unary(m('ModelReady'), 'inference', (req: NameVersion) => {
      const name = requireName(req.name);
      let ready = false;
      try {
        ready = isReady(registry.get(name, versionOf(req.version)));
      } catch (err) {
        if (!(err instanceof ServeError && err.kind === 'ModelNotFound')) throw err; // unknown: not ready, as Triton
      }
      return { ready };
    }),
    ServerMetadata: front.unary(m('ServerMetadata'), 'inference', () => serverMetadata()),
    ModelMetadata: front.unary(m('ModelMetadata'), 'inference', (req: NameVersion) =>
      modelMetadata(registry, registry.get(requireName(req.name), versionOf(req.version))),
    ),
    ModelInfer: front.unary(m('ModelInfer'), 'inference', (req: ModelInferRequest, scope) => modelInfer(deps, req, scope)),
    ModelStreamInfer: modelStreamInfer(deps, front, m('ModelStreamInfer')),
    ModelConfig: front.unary(m('ModelConfig'), 'inference', (req: NameVersion) => ({
      config: modelConfigJson(registry.get(requireName(req.name), versionOf(req.version))), // protobuf JSON of inference.ModelConfig
    })),
    ModelStatistics: front.unary(m('ModelStatistics'), 'inference', (req: NameVersion) => modelStatistics(registry, req.name, req.version)),
    RepositoryIndex: front.unary(m('RepositoryIndex'), 'inference', async (req: { repository_name: string; ready: boolean }) => {
      noRepositoryName(req.repository_name);
      const models = await repositoryIndex(registry, req.ready);
      return { models: models.map((e) => ({ name: e.name, version: e.version ?? '', state: e.state, reason: e.reason ?? '' })) };
    }),
    RepositoryModelLoad: front.unary(
      m('RepositoryModelLoad'),
      'inference',
      async (req: { repository_name: string; model_name: string; parameters: Record<string, RepositoryParameter> }) => {
        gate();
        noRepositoryName(req.repository_name);
        await loadModel(registry, requireName(req.model_name, 'model_name'), repositoryParams(req.parameters));
        return {};
      },
    ),
    RepositoryModelUnload: front.unary(m('RepositoryModelUnload'), 'inference', async (req: { repository_name: string; model_name: string }) => {
      gate();
      noRepositoryName(req.repository_name);
      const name = requireName(req.model_name, 'model_name');
      if (registry.versionsOf(name).length === 0) throw new ServeError('ModelNotFound', `model "${name}" is not loaded`);
      await unloadModel(registry, name);
      return {};
    }),
    SystemSharedMemoryStatus: notHere('SystemSharedMemoryStatus', 'the shared-memory extension is not implemented; send tensors in the request'),
    SystemSharedMemoryRegister: notHere('SystemSharedMemoryRegister', 'the shared-memory extension is not implemented; send tensors in the request'),
    SystemSharedMemoryUnregister: notHere('SystemSharedMemoryUnregister', 'the shared-memory extension is not implemented; send tensors in the request'),
    CudaSharedMemoryStatus: notHere('CudaSharedMemoryStatus', 'CUDA shared memory is not implemented (no GPU support)'),
    CudaSharedMemoryRegister: notHere('CudaSharedMemoryRegister', 'CUDA shared memory is not implemented (no GPU support)'),
    CudaSharedMemoryUnregister: notHere('CudaSharedMemoryUnregister', 'CUDA shared memory is not implemented (no GPU support)'),
    TraceSetting: notHere('TraceSetting', 'the trace extension is not implemented; see the access log and the metrics'),
    LogSettings: notHere('LogSettings', 'the logging extension is not implemented; set MS_LOG_LEVEL at start'),
  };
}
