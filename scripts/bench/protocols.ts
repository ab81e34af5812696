/**
 * The same model, the same tensors, three transports: Open Inference Protocol v2 over REST (JSON data), and
 * ModelInfer over gRPC with raw_input_contents and with typed fp32_contents. The MLP, so that the transport's
 * own cost is most of what is measured. A short section: c=1 and c=32, half the sweep's seconds per point.
 */
import type { Request } from 'autocannon';
import { quietest } from './cpu-share.ts';
import { MLP_INPUTS, type Fixtures } from './fixtures.ts';
import { measureGrpc } from './grpc-load.ts';
import { measure } from './load.ts';
import type { ModelServer } from './processes.ts';
import type { Noted } from './report.ts';
import type { LoadPoint } from './load.ts';

export const PROTOCOL_CONCURRENCY = [1, 32];

export interface ProtocolRows {
  v2Rest: Noted<LoadPoint>[];
  grpcRaw: Noted<LoadPoint>[];
  grpcTyped: Noted<LoadPoint>[];
}

/** The MLP rows of the fixtures (the /predictions bodies are `[[…16 floats]]`). */
function rows(f: Fixtures): number[][] {
  return f.mlpBodies.map((b) => (JSON.parse(b) as number[][])[0]);
}

function restRequests(f: Fixtures): Request[] {
  return rows(f).map((row) => ({
    method: 'POST',
    path: '/v2/models/mlp/infer',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, MLP_INPUTS], data: row }] }),
  }));
}

function grpcRequests(f: Fixtures, raw: boolean): object[] {
  return rows(f).map((row) => {
    const input = { name: 'input', datatype: 'FP32', shape: [1, MLP_INPUTS] };
    return raw
      ? { model_name: 'mlp', inputs: [input], raw_input_contents: [Buffer.from(Float32Array.from(row).buffer)] }
      : { model_name: 'mlp', inputs: [{ ...input, contents: { fp32_contents: row } }] };
  });
}

export async function protocolRows(server: ModelServer, f: Fixtures, seconds: number, warmupSeconds: number, say: (m: string) => void): Promise<ProtocolRows> {
  if (!server.grpcInference) throw new Error('the server did not write its gRPC address to its pid file');
  const out: ProtocolRows = { v2Rest: [], grpcRaw: [], grpcTyped: [] };
  const rest = restRequests(f);
  const raw = grpcRequests(f, true);
  const typed = grpcRequests(f, false);
  for (const concurrency of PROTOCOL_CONCURRENCY) {
    const runs: Array<[keyof ProtocolRows, () => Promise<LoadPoint>]> = [
      ['v2Rest', () => measure({ url: server.url, requests: rest, concurrency, seconds, warmupSeconds })],
      ['grpcRaw', () => measureGrpc({ target: server.grpcInference!, requests: raw, concurrency, seconds, warmupSeconds })],
      ['grpcTyped', () => measureGrpc({ target: server.grpcInference!, requests: typed, concurrency, seconds, warmupSeconds })],
    ];
    for (const [key, run] of runs) {
      const p = await quietest([server.pid], run, say);
      say(`  ${key} c=${concurrency}: ${p.rps.toFixed(1)} req/s, p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms${p.failed ? `, ${p.failed} failed ${JSON.stringify(p.failures)}` : ''}, other CPU ${p.otherCpu.toFixed(0)}%`);
      out[key].push(p);
    }
  }
  return out;
}
