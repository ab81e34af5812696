/**
 * The gRPC load generator: `concurrency` ModelInfer calls kept in flight on one HTTP/2 connection (as one
 * tritonclient or KServe client holds one channel), each latency kept at performance.now() precision, for the
 * same LoadPoint figures as autocannon. Like autocannon for HTTP/1.1, it is a thin client: requests are
 * serialized and framed once up front (gRPC's 5-byte prefix), sent with node:http2, and an answer counts when its
 * trailers say `grpc-status: 0`; answers are not decoded. A grpc-js client costs several times more CPU per call,
 * which on a shared 2-core machine would measure the client rather than the server.
 */
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { packageDefinition, SERVICES } from '../../src/api/grpc/protos.ts';
import { percentile, type LoadPoint } from './load.ts';

export interface GrpcLoadOptions {
  target: string;
  /** ModelInferRequests, sent in turn. */
  requests: object[];
  concurrency: number;
  seconds: number;
  warmupSeconds?: number;
}

const PATH = `/${SERVICES.triton}/ModelInfer`;
const HEADERS = { ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' };

/** One length-prefixed gRPC message (uncompressed). */
function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** One call: resolves with its grpc-status (or 'error' when the stream failed). */
function call(session: http2.ClientHttp2Session, body: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const req = session.request(HEADERS);
    let status = 'no status';
    req.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']); // trailers-only answer
    });
    req.on('trailers', (trailers) => {
      status = String(trailers['grpc-status']);
    });
    req.on('data', () => {});
    req.on('close', () => resolve(status));
    req.on('error', () => resolve('error'));
    req.end(body);
  });
}

async function once(session: http2.ClientHttp2Session, bodies: Buffer[], o: GrpcLoadOptions, seconds: number): Promise<LoadPoint> {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const lane = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const status = await call(session, bodies[next++ % bodies.length]);
      if (status === '0') latencies.push(performance.now() - t0);
      else {
        failed++;
        const k = /^\d+$/.test(status) ? (grpc.status[Number(status)] ?? status) : status;
        failures[k] = (failures[k] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, lane));
  const duration = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    concurrency: o.concurrency,
    rps: sorted.length / duration,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    ok: sorted.length,
    failed,
    failures,
    seconds: duration,
  };
}

/** An optional warm-up, then one measured run; every call has been answered when this resolves. */
export async function measureGrpc(o: GrpcLoadOptions): Promise<LoadPoint> {
  const method = (packageDefinition()[SERVICES.triton] as grpc.ServiceDefinition).ModelInfer;
  const bodies = o.requests.map((r) => frame(method.requestSerialize(r)));
  const session = http2.connect(`http://${o.target}`, { settings: { initialWindowSize: 4 * 1024 * 1024 } });
  session.on('error', () => {});
  try {
    if (o.warmupSeconds) await once(session, bodies, o, o.warmupSeconds);
    return await once(session, bodies, o, o.seconds);
  } finally {
    await new Promise<void>((resolve) => session.close(() => resolve()));
  }
}
