/**
 * What every gRPC call goes through, as the Koa front does for HTTP: the drain gate (UNAVAILABLE once stopping),
 * the token in the `authorization` metadata (UNAUTHENTICATED otherwise), a request id, the one error mapping, one
 * access-log line and the response-class metrics per request. A call's deadline and cancellation become the
 * data plane's queue bounds (`queue()`).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { SubmitOptions } from '../../batching/batcher.ts';
import type { DrainGate } from '../../drain.ts';
import { ServeError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { ServerMetrics } from '../../metrics/metrics.ts';
import type { KeyKind, TokenStore } from '../../security/tokens.ts';
import { asServeError, grpcCode, httpStatusOf, toGrpcError } from './errors.ts';

export interface CallDeps {
  log: Logger;
  metrics: ServerMetrics;
  gate: DrainGate;
  /** Undefined when tokens are off. */
  tokens?: TokenStore;
}

/** Open: answered without a token (health, liveness, readiness, reflection), as /ping and /v2/health/* are. */
export type Access = KeyKind | 'open';

/** The model an access line names, set by the method while it runs. */
export interface Served {
  name: string;
  version: string;
  batchSize?: number;
}

export interface CallScope {
  requestId: string;
  /** performance.now() when the call (or stream message) arrived. */
  startedAt: number;
  /** Metadata as headers (ASCII values; `-bin` keys left out). */
  headers: Record<string, string>;
  served?: Served;
  /** The queue bounds of this call: its deadline and its cancellation. */
  queue: SubmitOptions;
}

const SANE_ID = /^[A-Za-z0-9._:\-]{1,128}$/;
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;

function headersOf(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) if (typeof v === 'string') out[k] = v;
  return out;
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/** The call's deadline on performance.now()'s clock, or undefined when it has none. */
function deadlineOf(call: AnyCall): number | undefined {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  if (!Number.isFinite(ms)) return undefined;
  return performance.now() + (ms - Date.now());
}

export class GrpcFront {
  private readonly access: Logger;

  constructor(private readonly deps: CallDeps) {
    this.access = deps.log.child({ component: 'access' });
  }

  get stopping(): boolean {
    return this.deps.gate.stopping;
  }

  /** Refuses the call (stopping, token) with a ServeError, or undefined when it may go on. */
  private refusal(call: AnyCall, access: Access, method: string): ServeError | undefined {
    if (this.deps.gate.stopping && access !== 'open') return new ServeError('ServiceUnavailable', 'the server is stopping');
    if (access === 'open' || !this.deps.tokens) return undefined;
    const header = call.metadata.get('authorization')[0];
    const token = typeof header === 'string' ? (BEARER.exec(header)?.[1] ?? '') : undefined;
    const verdict = this.deps.tokens.verify(access, token);
    if (verdict.ok) return undefined;
    const which = access === 'API' ? 'the API key' : `the ${access} key`;
    const message =
      verdict.reason === 'missing'
        ? `token authorization is on: send the metadata "authorization: Bearer <key>" with ${which} from the key file (${method})`
        : verdict.reason === 'wrong'
          ? `the token is not ${which}: send "authorization: Bearer <key>" with ${which} from the key file`
          : `${which} expired at ${new Date(verdict.expiredAt!).toISOString()}: get a new one with GET /token?type=${access} on the management API`;
    return new ServeError('Unauthorized', message);
  }

  /** A fresh scope for one request: id, clock, headers, and queue bounds tied to the call. */
  scope(call: AnyCall, signal: AbortSignal): CallScope {
    const given = call.metadata.get('x-request-id')[0];
    const requestId = typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
    const deadline = deadlineOf(call);
    return {
      requestId,
      startedAt: performance.now(),
      headers: headersOf(call.metadata),
      queue: {
        deadline,
        signal,
        expired: (waited) =>
          new ServeError('ResponseTimeout', `the call's deadline passed while it waited ${Math.round(waited)} ms in the queue; it was not run`),
      },
    };
  }

  /** One access-log line and the response-class counter for one answered request. */
  record(method: string, scope: CallScope, code: grpc.status, err?: ServeError): void {
    const status = httpStatusOf(code, err);
    this.deps.metrics.response(status);
    this.access.info(
      {
        method: 'GRPC',
        path: method,
        status,
        grpcCode: grpc.status[code],
        ms: Math.round((performance.now() - scope.startedAt) * 1000) / 1000,
        model: scope.served?.name,
        version: scope.served?.version,
        batchSize: scope.served?.batchSize,
        requestId: scope.requestId,
      },
      `GRPC ${method} ${grpc.status[code]}`,
    );
  }

  logUnexpected(method: string, err: unknown): void {
    this.deps.log.error({ method, error: (err as Error)?.stack ?? String(err) }, 'unexpected error in a gRPC call');
  }

  /** A unary method: `fn` answers the request; errors go out through the one table. */
  unary<Req, Res>(method: string, access: Access, fn: (req: Req, scope: CallScope) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const ac = new AbortController();
      let answered = false;
      // grpc-js also reports a stream closed after the answer as cancelled: only a call still running is aborted.
      call.on('cancelled', () => {
        if (!answered) ac.abort(new ServeError('ServiceUnavailable', 'the client cancelled the call'));
      });
      const scope = this.scope(call as AnyCall, ac.signal);
      const refused = this.refusal(call as AnyCall, access, method);
      if (refused) {
        this.record(method, scope, grpcCode(refused), refused);
        callback(toGrpcError(refused, scope.requestId));
        return;
      }
      const leave = this.deps.gate.enter();
      Promise.resolve()
        .then(() => fn(call.request, scope))
        .then(
          (res) => {
            answered = true;
            this.record(method, scope, grpc.status.OK);
            const md = new grpc.Metadata();
            md.set('x-request-id', scope.requestId);
            callback(null, res, md);
          },
          (err: unknown) => {
            answered = true;
            const se = asServeError(err);
            if (se !== err) this.logUnexpected(method, err);
            this.record(method, scope, grpcCode(se), se);
            callback(toGrpcError(se, scope.requestId));
          },
        )
        .finally(leave);
    };
  }

  /** Checks a streaming call at its start; on refusal ends it with the error and answers false. */
  openStream(call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, method: string, access: Access): boolean {
    const refused = this.refusal(call, access, method);
    if (!refused) return true;
    const scope = this.scope(call, new AbortController().signal);
    this.record(method, scope, grpcCode(refused), refused);
    call.emit('error', toGrpcError(refused, scope.requestId));
    return false;
  }

  /**
   * One request of a stream starts: it counts as in flight for the drain until the returned function is called.
   * An open stream with nothing pending does not hold a graceful stop; once stopping, a new request is refused.
   */
  enterRequest(): (() => void) | ServeError {
    if (this.deps.gate.stopping) return new ServeError('ServiceUnavailable', 'the server is stopping');
    return this.deps.gate.enter();
  }
}
