/**
 * The .proto files in `proto/` (wire-identical to Triton's, TorchServe's and grpc.health.v1; see their headers),
 * loaded at run time with @grpc/proto-loader: the server and the test clients read the same files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** `proto/` at the package root (above src/api/grpc under tsx, dist/src/api/grpc when built). */
function protoDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'proto', 'triton', 'grpc_service.proto'))) return path.join(dir, 'proto');
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the proto/ folder of modelserver');
}

export const PROTO_DIR = protoDir();

export const PROTO_FILES = {
  triton: 'triton/grpc_service.proto',
  torchserveInference: 'torchserve/inference.proto',
  torchserveManagement: 'torchserve/management.proto',
  health: 'grpc/health/v1/health.proto',
} as const;

/**
 * Field names as in the .proto files; 64-bit integers as decimal strings (exact); enums by name; every field
 * present with its default; the oneof's set member named in a virtual field.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR, path.join(PROTO_DIR, 'triton')], // grpc_service.proto imports "model_config.proto"
};

let cached: protoLoader.PackageDefinition | undefined;

/** Every service of proto/ in one package definition (reflection describes all of them). */
export function packageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(Object.values(PROTO_FILES), LOADER_OPTIONS);
  return cached;
}

type Loaded = grpc.GrpcObject;

/** A service definition by its full name (`inference.GRPCInferenceService`). */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  let node: Loaded | grpc.ServiceClientConstructor = grpc.loadPackageDefinition(packageDefinition());
  for (const part of fullName.split('.')) node = (node as Loaded)[part] as Loaded;
  const ctor = node as unknown as grpc.ServiceClientConstructor;
  if (!ctor?.service) throw new Error(`no gRPC service ${fullName} in proto/`);
  return ctor.service;
}

/** A client constructor by the service's full name (tests, bench). */
export function clientConstructor(fullName: string): grpc.ServiceClientConstructor {
  let node: unknown = grpc.loadPackageDefinition(packageDefinition());
  for (const part of fullName.split('.')) node = (node as Loaded)[part];
  return node as grpc.ServiceClientConstructor;
}

export const SERVICES = {
  triton: 'inference.GRPCInferenceService',
  torchserveInference: 'org.pytorch.serve.grpc.inference.InferenceAPIsService',
  torchserveManagement: 'org.pytorch.serve.grpc.management.ManagementAPIsService',
  health: 'grpc.health.v1.Health',
} as const;
