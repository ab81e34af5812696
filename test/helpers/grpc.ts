/**
 * gRPC clients for the tests, built from the same .proto files the server loads (proto/, via
 * src/api/grpc/protos.ts), with promise wrappers for unary calls and helpers for streams.
 */
import * as grpc from '@grpc/grpc-js';
import { clientConstructor, SERVICES } from '../../src/api/grpc/protos.ts';

export type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export function client(service: keyof typeof SERVICES, target: string, credentials = grpc.credentials.createInsecure(), options?: grpc.ClientOptions): Client {
  const Ctor = clientConstructor(SERVICES[service]);
  return new Ctor(target, credentials, options) as unknown as Client;
}

export interface CallOptions {
  metadata?: Record<string, string>;
  deadlineMs?: number;
}

function md(opts: CallOptions): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) m.set(k, v);
  return m;
}

function callOptions(opts: CallOptions): grpc.CallOptions {
  return opts.deadlineMs === undefined ? {} : { deadline: Date.now() + opts.deadlineMs };
}

/** A unary call; rejects with the ServiceError (code, details). */
export function unary<T = Record<string, any>>(c: Client, method: string, req: unknown, opts: CallOptions = {}): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    c[method](req, md(opts), callOptions(opts), (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
  });
}

/** The error of a call that must fail. */
export async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('the call succeeded but was expected to fail');
}

/** A bidirectional stream: writes `requests`, half-closes, and collects every response until the end. */
export function bidi<T = Record<string, any>>(c: Client, method: string, requests: unknown[], opts: CallOptions = {}): Promise<T[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const call = c[method](md(opts), callOptions(opts)) as grpc.ClientDuplexStream<unknown, T>;
    const out: T[] = [];
    call.on('data', (d: T) => out.push(d));
    call.on('error', reject);
    call.on('end', () => resolve(out));
    for (const r of requests) call.write(r);
    call.end();
  });
}

export const close = (...clients: Array<grpc.Client | undefined>) => clients.forEach((c) => c?.close());
