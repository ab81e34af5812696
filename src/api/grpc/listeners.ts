/**
 * The two gRPC listeners: on grpc_inference_port Triton's/KServe's `inference.GRPCInferenceService` and
 * TorchServe's `InferenceAPIsService`; on grpc_management_port TorchServe's `ManagementAPIsService`. Each also
 * serves `grpc.health.v1.Health` and server reflection (v1 and v1alpha, for grpcurl). Message limits are
 * max_request_size (receive) and max_response_size (send); TLS with private_key_file/certificate_file when
 * enable_grpc_ssl=true.
 */
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { GrpcAddress } from '../../config/config.ts';
import { ServeError } from '../../errors.ts';
import { GrpcFront, type CallDeps } from './call.ts';
import { healthService } from './health.ts';
import { packageDefinition, serviceDefinition, SERVICES } from './protos.ts';
import { torchServeInferenceService } from './torchserve-inference.ts';
import { torchServeManagementService, type ManagementDeps } from './torchserve-management.ts';
import { tritonService } from './triton-service.ts';
import type { TritonDeps } from './v2-infer.ts';

export interface GrpcDeps extends CallDeps, TritonDeps, ManagementDeps {
  maxRequestSize: number;
  maxResponseSize: number;
  /** The PEM key and certificate when enable_grpc_ssl=true. */
  tls?: { key: Buffer; cert: Buffer };
}

export interface GrpcListener {
  readonly server: grpc.Server;
  /** host:port as bound (the port the OS chose for port 0). */
  readonly target: string;
  readonly port: number;
}

const REFLECTION = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

function credentials(tls: GrpcDeps['tls']): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(null, [{ private_key: tls.key, cert_chain: tls.cert }], false);
}

async function bind(server: grpc.Server, addr: GrpcAddress, tls: GrpcDeps['tls'], key: string): Promise<GrpcListener> {
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${addr.port}`, credentials(tls), (err, p) => (err ? reject(err) : resolve(p)));
  }).catch((err: Error) => {
    throw new ServeError('BadRequest', `cannot listen for gRPC on ${host}:${addr.port} (${key}): ${err.message}`, { cause: err });
  });
  return { server, port, target: `${host}:${port}` };
}

function newServer(deps: GrpcDeps, services: Array<[string, grpc.UntypedServiceImplementation]>, front: GrpcFront, ready: () => boolean): grpc.Server {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': deps.maxRequestSize,
    'grpc.max_send_message_length': deps.maxResponseSize,
  });
  for (const [name, impl] of services) server.addService(serviceDefinition(name), impl);
  const names = services.map(([n]) => n);
  server.addService(serviceDefinition(SERVICES.health), healthService(names, ready, front));
  new ReflectionService(packageDefinition(), { services: [...names, SERVICES.health, ...REFLECTION] }).addToServer(server);
  return server;
}

export async function startGrpc(
  deps: GrpcDeps,
  addresses: { inference: GrpcAddress; management: GrpcAddress },
): Promise<{ inference: GrpcListener; management: GrpcListener }> {
  const front = new GrpcFront(deps);
  const ready = () => deps.healthy() && !deps.gate.stopping;
  const inference = newServer(
    deps,
    [
      [SERVICES.triton, tritonService(deps, front)],
      [SERVICES.torchserveInference, torchServeInferenceService(deps, front)],
    ],
    front,
    ready,
  );
  const management = newServer(deps, [[SERVICES.torchserveManagement, torchServeManagementService(deps, front)]], front, () => !deps.gate.stopping);
  try {
    const a = await bind(inference, addresses.inference, deps.tls, 'grpc_inference_address/grpc_inference_port');
    const b = await bind(management, addresses.management, deps.tls, 'grpc_management_address/grpc_management_port');
    return { inference: a, management: b };
  } catch (err) {
    inference.forceShutdown();
    management.forceShutdown();
    throw err;
  }
}

/** Stops accepting calls and ends those still open (after the drain let them finish). */
export async function stopGrpc(listener: GrpcListener, graceMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      listener.server.forceShutdown();
      resolve();
    }, graceMs);
    listener.server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
