/**
 * The same model, the same tensors, three transports: Open Inference Protocol v2 over REST (JSON data), and
 * ModelInfer over gRPC with raw_input_contents and with typed fp32_contents. The MLP, so that the transport's
 * own cost is most of what is measured. A short section: c=1 and c=32, half the sweep's seconds per point.
 * Each row also gives the server process's CPU time per answered request (all its threads, from /proc), which
 * does not depend on how fast the load generator in the benchmark's process is.
 */
import fs from 'node:fs';
import type { Request } from 'autocannon';
import { quietest } from './cpu-share.ts';
import { MLP_INPUTS, type Fixtures } from './fixtures.ts';
import { measureGrpc } from './grpc-load.ts';
import { measure } from './load.ts';
import type { ModelServer } from './processes.ts';
import type { Noted } from './report.ts';
import type { LoadPoint } from './load.ts';

export const PROTOCOL_CONCURRENCY = [1, 32];

export type ProtocolPoint = Noted<LoadPoint> & { serverCpuMsPerRequest: number };

export interface ProtocolRows {
  v2Rest: ProtocolPoint[];
  grpcRaw: ProtocolPoint[];
  grpcTyped: ProtocolPoint[];
}

/** User + system CPU of a process in ms (Linux; NaN elsewhere). */
function cpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
  } catch {
    return NaN;
  }
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
    const runs: Array<[keyof ProtocolRows, (s: number) => Promise<LoadPoint>]> = [
      ['v2Rest', (s) => measure({ url: server.url, requests: rest, concurrency, seconds: s })],
      ['grpcRaw', (s) => measureGrpc({ target: server.grpcInference!, requests: raw, concurrency, seconds: s })],
      ['grpcTyped', (s) => measureGrpc({ target: server.grpcInference!, requests: typed, concurrency, seconds: s })],
    ];
    for (const [key, run] of runs) {
      await run(warmupSeconds);
      const p = await quietest(
        [server.pid],
        async () => {
          const before = cpuMs(server.pid);
          const point = await run(seconds);
          return { ...point, serverCpuMsPerRequest: (cpuMs(server.pid) - before) / point.ok };
        },
        say,
      );
      say(
        `  ${key} c=${concurrency}: ${p.rps.toFixed(1)} req/s, p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, ` +
          `server CPU ${p.serverCpuMsPerRequest.toFixed(3)} ms/request${p.failed ? `, ${p.failed} failed ${JSON.stringify(p.failures)}` : ''}, other CPU ${p.otherCpu.toFixed(0)}%`,
      );
      out[key].push(p);
    }
  }
  return out;
}
