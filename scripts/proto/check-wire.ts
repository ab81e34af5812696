/**
 * Checks that proto/ is wire-identical to the upstream files it names.
 *
 *   tsx scripts/proto/check-wire.ts                 compares proto/ with proto/upstream-wire.json
 *   tsx scripts/proto/check-wire.ts --upstream DIR  also parses the upstream files in DIR (laid out as in
 *                                                   UPSTREAM below), compares, and rewrites upstream-wire.json
 *
 * Exit 0 when equal; otherwise prints every difference and exits 1. CI has no network, so the test suite runs
 * the first form; the second is how upstream-wire.json was made (from the commits named in each file's header).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wireShape, type WireShape } from './wire.ts';

export const PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto');
export const STORED = path.join(PROTO_DIR, 'upstream-wire.json');

/** Our files, and where each upstream file sits in a folder of upstream files. */
export const UPSTREAM: Array<{ ours: string; upstream: string }> = [
  { ours: 'triton/grpc_service.proto', upstream: 'grpc_service.proto' }, // imports model_config.proto
  { ours: 'torchserve/inference.proto', upstream: 'inference.proto' },
  { ours: 'torchserve/management.proto', upstream: 'management.proto' },
  { ours: 'grpc/health/v1/health.proto', upstream: 'grpc/health/v1/health.proto' },
];

export function ourShape(): WireShape {
  return wireShape(PROTO_DIR, UPSTREAM.map((u) => u.ours));
}

/** Every difference between two shapes, as lines. */
export function differences(a: WireShape, b: WireShape, aName = 'ours', bName = 'upstream'): string[] {
  const out: string[] = [];
  for (const kind of ['messages', 'enums', 'services'] as const) {
    const names = new Set([...Object.keys(a[kind]), ...Object.keys(b[kind])]);
    for (const n of [...names].sort()) {
      const x = a[kind][n];
      const y = b[kind][n];
      if (!x) out.push(`${kind} ${n}: only in ${bName}`);
      else if (!y) out.push(`${kind} ${n}: only in ${aName}`);
      else {
        for (const l of x) if (!y.includes(l)) out.push(`${kind} ${n}: ${aName} has "${l}"`);
        for (const l of y) if (!x.includes(l)) out.push(`${kind} ${n}: ${bName} has "${l}"`);
      }
    }
  }
  return out;
}

function main(): void {
  const ours = ourShape();
  const at = process.argv.indexOf('--upstream');
  if (at > 0) {
    const dir = path.resolve(process.argv[at + 1]);
    const upstream = wireShape(dir, UPSTREAM.map((u) => u.upstream));
    const diff = differences(ours, upstream);
    if (diff.length > 0) {
      console.error(diff.join('\n'));
      process.exit(1);
    }
    fs.writeFileSync(STORED, JSON.stringify(upstream, null, 1) + '\n');
    console.log(`wire-identical to ${dir}: ${Object.keys(upstream.messages).length} messages, ${Object.keys(upstream.enums).length} enums, ${Object.keys(upstream.services).length} services; wrote ${STORED}`);
    return;
  }
  const stored = JSON.parse(fs.readFileSync(STORED, 'utf8')) as WireShape;
  const diff = differences(ours, stored);
  if (diff.length > 0) {
    console.error(diff.join('\n'));
    process.exit(1);
  }
  console.log(`proto/ matches ${path.relative(process.cwd(), STORED)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
