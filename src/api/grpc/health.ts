/**
 * The standard `grpc.health.v1.Health` service (Check, List, Watch), so that a Kubernetes `grpc:` probe and
 * grpc_health_probe work. The statuses are computed when asked: the server ('') and each of the listener's
 * services are SERVING while the server is ready (start-up done, every model at its minimum of ready workers, not
 * stopping), else NOT_SERVING. An unknown service is NOT_FOUND for Check and SERVICE_UNKNOWN for Watch, as the
 * protocol says. Open without a token, like /ping.
 */
import * as grpc from '@grpc/grpc-js';
import { ServeError } from '../../errors.ts';
import type { GrpcFront } from './call.ts';

type Status = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** How often Watch looks for a change. */
const WATCH_INTERVAL_MS = 1000;

export function healthService(services: readonly string[], ready: () => boolean, front: GrpcFront): grpc.UntypedServiceImplementation {
  const known = new Set(['', ...services]);
  const statusOf = (service: string): Status => (!known.has(service) ? 'SERVICE_UNKNOWN' : ready() ? 'SERVING' : 'NOT_SERVING');
  const base = '/grpc.health.v1.Health/';
  return {
    Check: front.unary(base + 'Check', 'open', (req: { service: string }) => {
      const status = statusOf(req.service);
      if (status === 'SERVICE_UNKNOWN') throw new ServeError('NotFound', `unknown service "${req.service}"; this listener serves: ${[...known].filter(Boolean).join(', ')}`);
      return { status };
    }),
    List: front.unary(base + 'List', 'open', () => ({
      statuses: Object.fromEntries([...known].map((s) => [s, { status: statusOf(s) }])),
    })),
    Watch: (call: grpc.ServerWritableStream<{ service: string }, { status: Status }>) => {
      let last: Status | undefined;
      const send = () => {
        const now = statusOf(call.request.service);
        if (now !== last) {
          last = now;
          call.write({ status: now });
        }
      };
      send();
      const timer = setInterval(send, WATCH_INTERVAL_MS);
      const stop = () => clearInterval(timer);
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    },
  };
}
