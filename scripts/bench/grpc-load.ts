/**
 * The gRPC load generator: `concurrency` ModelInfer calls kept in flight on one channel (as one tritonclient or
 * KServe client holds one), each latency kept at performance.now() precision, for the same LoadPoint figures as
 * autocannon. Like autocannon, which sends prepared bodies and does not parse answers, the requests are
 * serialized once up front and the answers are not decoded: the client's share of the shared CPU stays small.
 */
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

const METHOD = `/${SERVICES.triton}/ModelInfer`;
const same = (b: Buffer) => b;

async function once(c: grpc.Client, bodies: Buffer[], o: GrpcLoadOptions, seconds: number): Promise<LoadPoint> {
  const infer = (body: Buffer, cb: (err: grpc.ServiceError | null) => void) => c.makeUnaryRequest(METHOD, same, same, body, cb);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const lane = async () => {
    while (performance.now() < end) {
      const req = bodies[next++ % bodies.length];
      const t0 = performance.now();
      const err = await new Promise<grpc.ServiceError | null>((resolve) => infer(req, resolve));
      if (err) {
        failed++;
        const k = grpc.status[err.code] ?? String(err.code);
        failures[k] = (failures[k] ?? 0) + 1;
      } else latencies.push(performance.now() - t0);
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
  const bodies = o.requests.map((r) => method.requestSerialize(r));
  const c = new grpc.Client(o.target, grpc.credentials.createInsecure());
  try {
    if (o.warmupSeconds) await once(c, bodies, o, o.warmupSeconds);
    return await once(c, bodies, o, o.seconds);
  } finally {
    c.close();
  }
}
