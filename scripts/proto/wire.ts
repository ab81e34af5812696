/**
 * The wire shape of a set of .proto files, as protobufjs parses them: every message's fields (name, number, type
 * by full name, label, map key, oneof), every enum's values, every service's methods (request and response types,
 * streaming). Comments, options and layout are left out: two files with the same shape are the same on the wire
 * and to a JSON/protobuf client.
 */
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';

export interface WireShape {
  messages: Record<string, string[]>;
  enums: Record<string, string[]>;
  services: Record<string, string[]>;
}

/** Parses `files` (relative to `dir`; imports resolve in `dir`, then protobufjs's google/protobuf types). */
export function wireShape(dir: string, files: string[]): WireShape {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    const local = path.resolve(dir, target);
    return fs.existsSync(local) ? local : protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(files.map((f) => path.resolve(dir, f)), { keepCase: true });
  root.resolveAll();
  const shape: WireShape = { messages: {}, enums: {}, services: {} };
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const n of ns.nestedArray) {
      const name = n.fullName.slice(1);
      if (n instanceof protobuf.Type) {
        if (!name.startsWith('google.protobuf.')) shape.messages[name] = n.fieldsArray.map(fieldLine).sort();
      } else if (n instanceof protobuf.Enum) {
        if (!name.startsWith('google.protobuf.')) shape.enums[name] = Object.entries(n.values).map(([k, v]) => `${k}=${v}`);
      } else if (n instanceof protobuf.Service) {
        shape.services[name] = n.methodsArray.map(
          (m) =>
            `${m.name}(${m.requestStream ? 'stream ' : ''}${m.resolvedRequestType!.fullName.slice(1)}) → ` +
            `${m.responseStream ? 'stream ' : ''}${m.resolvedResponseType!.fullName.slice(1)}`,
        );
      }
      if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) walk(n as protobuf.NamespaceBase);
    }
  };
  walk(root);
  return shape;
}

function fieldLine(f: protobuf.Field): string {
  const type = f.resolvedType ? f.resolvedType.fullName.slice(1) : f.type;
  const label = f instanceof protobuf.MapField ? `map<${f.keyType}>` : f.repeated ? 'repeated' : f.options?.proto3_optional ? 'optional' : 'singular';
  const oneof = f.partOf && !f.options?.proto3_optional ? ` oneof ${f.partOf.name}` : '';
  return `${f.id} ${f.name}: ${label} ${type}${oneof}`;
}
