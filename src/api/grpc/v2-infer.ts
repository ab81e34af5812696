/** One ModelInfer through the data plane, for the unary and the streaming RPC. */
import { inferV2, modelFor, type DataPlaneDeps } from '../../dataplane/infer.ts';
import { ServeError } from '../../errors.ts';
import type { Registry } from '../../registry/registry.ts';
import type { CallScope } from './call.ts';
import { parseModelInfer, type ModelInferRequest } from './v2-request.ts';
import { encodeModelInfer, type ModelInferResponse } from './v2-response.ts';

export interface TritonDeps extends DataPlaneDeps {
  registry: Registry;
  /** Server readiness: start-up finished and every model has its minimum of ready workers. */
  healthy: () => boolean;
  /** Loading and unloading models is allowed (enable_model_api). */
  modelApi: boolean;
}

export async function modelInfer(deps: TritonDeps, req: ModelInferRequest, scope: CallScope): Promise<ModelInferResponse> {
  if (req.model_name === '') throw new ServeError('BadRequest', '"model_name" is required: name the model');
  const version = req.model_version === '' ? undefined : req.model_version;
  const mv = modelFor(deps, req.model_name, version);
  scope.served = { name: mv.name, version: mv.version };
  const parsed = parseModelInfer(req, mv.name);
  const call = { requestId: scope.requestId, headers: scope.headers, query: {}, startedAt: scope.startedAt, queue: scope.queue };
  const answer = await inferV2(deps, mv, version, parsed, call);
  scope.served.batchSize = answer.batchSize;
  return encodeModelInfer(answer, parsed.id);
}
