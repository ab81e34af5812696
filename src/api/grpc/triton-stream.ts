/**
 * `ModelStreamInfer`: a bidirectional stream of ModelInferRequests. Each request is queued as soon as it arrives
 * (several in flight at once, batched like any other) and answered when it is done, so answers may come back in
 * another order than the requests (match them by `id`, as with Triton). A failed request is answered in the
 * stream with `error_message` and the stream goes on, as Triton does. When the client half-closes, the stream
 * ends after the last answer; when it cancels, the requests still queued leave the queue unrun. A graceful stop
 * waits for the requests pending in a stream, not for the stream to end; requests sent after it began are
 * answered "the server is stopping".
 */
import * as grpc from '@grpc/grpc-js';
import { ServeError } from '../../errors.ts';
import type { GrpcFront } from './call.ts';
import { asServeError, grpcCode } from './errors.ts';
import { modelInfer, type TritonDeps } from './v2-infer.ts';
import type { ModelInferRequest } from './v2-request.ts';
import type { ModelInferResponse } from './v2-response.ts';

type Stream = grpc.ServerDuplexStream<ModelInferRequest, { error_message: string; infer_response: ModelInferResponse | null }>;

export function modelStreamInfer(deps: TritonDeps, front: GrpcFront, method: string): grpc.handleBidiStreamingCall<ModelInferRequest, unknown> {
  return (call) => {
    const stream = call as Stream;
    if (!front.openStream(stream, method, 'inference')) return;
    const cancel = new AbortController();
    let pending = 0;
    let ended = false;
    let closed = false;
    const finish = () => {
      if (ended && pending === 0 && !closed) {
        closed = true;
        stream.end();
      }
    };
    stream.on('cancelled', () => {
      closed = true;
      cancel.abort(new ServeError('ServiceUnavailable', 'the client cancelled the stream'));
    });
    stream.on('data', (req: ModelInferRequest) => {
      const scope = front.scope(stream, cancel.signal);
      const leave = front.enterRequest();
      pending++;
      (leave instanceof ServeError ? Promise.reject(leave) : modelInfer(deps, req, scope))
        .then(
          (res) => {
            front.record(method, scope, grpc.status.OK);
            if (!closed) stream.write({ error_message: '', infer_response: res });
          },
          (err: unknown) => {
            const se = asServeError(err);
            if (se !== err) front.logUnexpected(method, err);
            front.record(method, scope, grpcCode(se), se);
            if (!closed) stream.write({ error_message: se.message, infer_response: null });
          },
        )
        .finally(() => {
          if (typeof leave === 'function') leave();
          pending--;
          finish();
        });
    });
    stream.on('end', () => {
      ended = true;
      finish();
    });
    stream.on('error', () => {
      ended = true;
      finish();
    });
  };
}
