/**
 * TorchServe's `InferenceAPIsService` (inference.proto): Ping, Predictions, StreamPredictions and the
 * bidirectional StreamPredictions2. A request's `input` map reaches the handler as TorchServe's gRPC frontend
 * passes it: every entry a field of bytes, and `data` the entry named `data` (else `body`, else the first); the
 * call's metadata as headers. The prediction is the handler's result as bytes (JSON as its text).
 *
 * The handler contract has no intermediate responses, so StreamPredictions answers one message and ends.
 * StreamPredictions2 answers each request in the stream; a failed one is answered with `status` (code and
 * message) and the stream goes on, as TorchServe does; `sequence_id` is echoed.
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { modelFor, type DataPlaneDeps } from '../../dataplane/infer.ts';
import { ServeError } from '../../errors.ts';
import type { WireRequest, WireValue } from '../../pool/messages.ts';
import { shared } from '../../pool/transfer.ts';
import type { CallScope, GrpcFront } from './call.ts';
import { asServeError, grpcCode } from './errors.ts';

export interface TorchServeInferenceDeps extends DataPlaneDeps {
  healthy: () => boolean;
}

interface PredictionsRequest {
  model_name: string;
  model_version: string;
  input: Record<string, Buffer>;
  sequence_id?: string;
}

interface PredictionResponse {
  prediction: Buffer;
  sequence_id?: string;
  status?: { code: number; message: string; details: never[] };
}

const SERVICE = '/org.pytorch.serve.grpc.inference.InferenceAPIsService/';

function wireRequest(req: PredictionsRequest, scope: CallScope): WireRequest {
  const fields: Record<string, WireValue> = {};
  for (const [k, v] of Object.entries(req.input)) fields[k] = shared(v);
  const key = 'data' in fields ? 'data' : 'body' in fields ? 'body' : Object.keys(fields)[0];
  const data = key === undefined ? null : fields[key];
  return { requestId: scope.requestId, data, body: data, fields, headers: scope.headers, query: {}, contentType: 'application/octet-stream' };
}

/** One prediction through the model's queue; the handler's result as bytes. */
async function predict(deps: TorchServeInferenceDeps, req: PredictionsRequest, scope: CallScope): Promise<Buffer> {
  if (req.model_name === '') throw new ServeError('BadRequest', 'Parameter model_name is required.');
  const version = req.model_version === '' ? undefined : req.model_version;
  const mv = modelFor(deps, req.model_name, version);
  scope.served = { name: mv.name, version: mv.version };
  const outcome = await mv.infer(wireRequest(req, scope), [], undefined, scope.queue);
  scope.served.batchSize = outcome.batchSize;
  deps.metrics.served({ model: mv.name, version: mv.version, requestedVersion: version, totalMs: performance.now() - scope.startedAt, outcome });
  const r = outcome.response;
  if (!r.ok) throw ServeError.fromWire(r.error);
  const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  if (r.status !== undefined && r.status >= 400) {
    throw new ServeError('HandlerError', body.toString('utf8') || `the handler answered ${r.status}`, { status: r.status });
  }
  return body;
}

export function torchServeInferenceService(deps: TorchServeInferenceDeps, front: GrpcFront): grpc.UntypedServiceImplementation {
  const m = (name: string) => SERVICE + name;
  return {
    Ping: front.unary(m('Ping'), 'open', () => ({
      health: JSON.stringify({ status: deps.healthy() && !front.stopping ? 'Healthy' : 'Unhealthy' }),
    })),
    Predictions: front.unary(m('Predictions'), 'inference', async (req: PredictionsRequest, scope) => ({ prediction: await predict(deps, req, scope) })),
    StreamPredictions: (call: grpc.ServerWritableStream<PredictionsRequest, PredictionResponse>) => {
      const method = m('StreamPredictions');
      if (!front.openStream(call, method, 'inference')) return;
      const cancel = new AbortController();
      call.on('cancelled', () => cancel.abort(new ServeError('ServiceUnavailable', 'the client cancelled the call')));
      const scope = front.scope(call, cancel.signal);
      const leave = front.enterRequest();
      (leave instanceof ServeError ? Promise.reject(leave) : predict(deps, call.request, scope).finally(leave)).then(
        (prediction) => {
          front.record(method, scope, grpc.status.OK);
          call.write({ prediction });
          call.end();
        },
        (err: unknown) => {
          const se = asServeError(err);
          if (se !== err) front.logUnexpected(method, err);
          front.record(method, scope, grpcCode(se), se);
          call.emit('error', { code: grpcCode(se), details: se.message });
        },
      );
    },
    StreamPredictions2: (call: grpc.ServerDuplexStream<PredictionsRequest, PredictionResponse>) => {
      const method = m('StreamPredictions2');
      if (!front.openStream(call, method, 'inference')) return;
      const cancel = new AbortController();
      let pending = 0;
      let ended = false;
      let closed = false;
      const finish = () => {
        if (ended && pending === 0 && !closed) {
          closed = true;
          call.end();
        }
      };
      call.on('cancelled', () => {
        closed = true;
        cancel.abort(new ServeError('ServiceUnavailable', 'the client cancelled the stream'));
      });
      call.on('data', (req: PredictionsRequest) => {
        const scope = front.scope(call, cancel.signal);
        const seq = req.sequence_id ? { sequence_id: req.sequence_id } : {};
        const leave = front.enterRequest();
        pending++;
        (leave instanceof ServeError ? Promise.reject(leave) : predict(deps, req, scope))
          .then(
            (prediction) => {
              front.record(method, scope, grpc.status.OK);
              if (!closed) call.write({ prediction, ...seq });
            },
            (err: unknown) => {
              const se = asServeError(err);
              if (se !== err) front.logUnexpected(method, err);
              front.record(method, scope, grpcCode(se), se);
              if (!closed) call.write({ prediction: Buffer.alloc(0), ...seq, status: { code: grpcCode(se), message: se.message, details: [] } });
            },
          )
          .finally(() => {
            if (typeof leave === 'function') leave();
            pending--;
            finish();
          });
      });
      call.on('end', () => {
        ended = true;
        finish();
      });
    },
  };
}
