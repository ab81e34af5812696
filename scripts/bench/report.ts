/** The results of one run: their shape, the targets of issue 4, and the JSON, Markdown and console forms. */
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import type { ImagePathPoint, RawPoint } from './ceilings.ts';
import type { LoadPoint } from './load.ts';
import type { ImageProfile } from './profile.ts';
import type { ProtocolRows } from './protocols.ts';
import type { MemoryResult, StartupResult } from './server-costs.ts';
import { OVERLOAD_QUEUE_SIZE, type OverloadPoint } from './overload.ts';

/** A measurement with the share of all cores that other processes used meanwhile (see cpu-share.ts). */
export type Noted<T> = T & { otherCpu: number };

export interface ServerPoint extends LoadPoint {
  meanBatch: number;
}

export interface Results {
  machine: { cpu: string; cores: number; memoryGB: number; node: string; platform: string; onnxruntime: string; sharp: string; date: string };
  settings: Record<string, unknown>;
  ceilings: { rawMlp: Noted<RawPoint>[]; rawCnn: Noted<RawPoint>[]; imagePath: Noted<ImagePathPoint>[]; profile: Noted<ImageProfile> };
  load: LoadRound;
  /**
   * The target points measured again after the sweep, each round with its baseline right before the server: a
   * target is judged on the median over the sweep and these rounds, not on one 6-second point.
   */
  targetRounds: Array<Partial<LoadRound>>;
  /** The MLP over v2 REST and gRPC (raw and typed contents), same server, same tensors. */
  protocols?: ProtocolRows;
  batchSizeSource: string;
  memory: MemoryResult;
  startup: { mlp: StartupResult; cnn: StartupResult; cnnZipStore: StartupResult; cnnRepository?: StartupResult };
  /** The MLP over v2 at c=32 from mlp.mar and from a Triton repository folder, in one server. */
  repositoryVsMar?: Array<{ mar: Noted<ServerPoint>; repository: Noted<ServerPoint> }>;
  /** The overload row (issue 16): admitted requests' latency while excess is shed, bounds off vs on. */
  overload: OverloadPoint[];
  targets: Target[];
}

export interface LoadRound {
  serverMlp: Noted<ServerPoint>[];
  serverCnn: Noted<ServerPoint>[];
  handWrittenCnn: Noted<LoadPoint>[];
  bareKoa: Noted<LoadPoint>[];
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  met: boolean;
}

export function machine(): Results['machine'] {
  const req = createRequire(import.meta.url);
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    onnxruntime: (req('onnxruntime-node/package.json') as { version: string }).version,
    sharp: ((v) => `${v.sharp} (libvips ${v.vips})`)((req('sharp') as { versions: { sharp: string; vips: string } }).versions),
    date: new Date().toISOString(),
  };
}

const at = <T extends { concurrency: number }>(xs: T[], c: number) => xs.find((p) => p.concurrency === c);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));

/**
 * One comparison over the sweep and the target rounds: `compare(server, baseline)` per round that has both points,
 * judged on the median. Shows the median, then each round's value and the sweep's own figures.
 */
function judged(
  r: Omit<Results, 'targets'>,
  pick: (round: Partial<LoadRound>) => [number | undefined, number | undefined],
  compare: (server: number, baseline: number) => number,
  show: (v: number) => string,
): { median: number; measured: string } {
  const values = [r.load, ...r.targetRounds]
    .map(pick)
    .filter((p): p is [number, number] => p[0] !== undefined && p[1] !== undefined)
    .map(([server, baseline]) => compare(server, baseline));
  const m = values.length > 0 ? median(values) : NaN;
  return { median: m, measured: `${show(m)} (median of ${values.length}: ${values.map(show).join(', ')})` };
}

export function targets(r: Omit<Results, 'targets'>): Target[] {
  const s32 = at(r.load.serverCnn, 32)?.rps ?? NaN;
  const h32 = at(r.load.handWrittenCnn, 32)?.rps ?? NaN;
  const s1 = at(r.load.serverCnn, 1)?.p50 ?? NaN;
  const h1 = at(r.load.handWrittenCnn, 1)?.p50 ?? NaN;
  const m64 = at(r.load.serverMlp, 64)?.rps ?? NaN;
  const k64 = at(r.load.bareKoa, 64)?.rps ?? NaN;
  const cnn32 = judged(r, (x) => [at(x.serverCnn ?? [], 32)?.rps, at(x.handWrittenCnn ?? [], 32)?.rps], (a, b) => a / b, (v) => `${f(v, 2)}×`);
  const cnn1 = judged(r, (x) => [at(x.serverCnn ?? [], 1)?.p50, at(x.handWrittenCnn ?? [], 1)?.p50], (a, b) => a - b, (v) => `${v >= 0 ? '+' : ''}${f(v, 2)} ms`);
  const mlp64 = judged(r, (x) => [at(x.serverMlp ?? [], 64)?.rps, at(x.bareKoa ?? [], 64)?.rps], (a, b) => (100 * a) / b, (v) => `${f(v, 1)}%`);
  const budget = r.memory.modelMB + 30;
  return [
    { name: 'CNN JPEG, c=32: server vs hand-written req/s', goal: '≥ 1.00×', measured: `${cnn32.measured}; sweep ${f(s32)} vs ${f(h32)} req/s`, met: cnn32.median >= 1 },
    { name: 'CNN JPEG, c=1, max_batch_delay=100: p50 vs hand-written', goal: '≤ +1 ms', measured: `${cnn1.measured}; sweep ${f(s1, 2)} vs ${f(h1, 2)} ms`, met: cnn1.median <= 1 },
    { name: 'MLP JSON, c=64: server vs bare Koa req/s', goal: '≥ 50%', measured: `${mlp64.measured}; sweep ${f(m64, 0)} vs ${f(k64, 0)} req/s`, met: mlp64.median >= 50 },
    {
      name: 'RSS per added worker (CNN)',
      goal: `≤ model + 30 MB = ${f(budget)} MB`,
      measured: `${f(r.memory.perWorkerMB)} MB after traffic, ${f(r.memory.perWorkerAfterLoadMB)} MB after load ` +
        `(hand-written server: ${f(r.memory.handWrittenPerWorkerMB)} MB)`,
      met: r.memory.perWorkerMB <= budget,
    },
    ...(['mlp', 'cnn'] as const).map((k) => {
      const ms = median(r.startup[k].healthyMs);
      const runs = r.startup[k].healthyMs.map((v) => f(v, 0)).join(', ');
      return { name: `\`modelserver --start\` with ${k}.mar to /ping Healthy`, goal: '< 1000 ms', measured: `${f(ms, 0)} ms (median of ${runs})`, met: ms < 1000 };
    }),
  ];
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function loadRows(points: Array<Noted<LoadPoint> & { meanBatch?: number }>, ceiling?: (p: LoadPoint) => number): string[][] {
  return points.map((p) => [
    String(p.concurrency), f(p.rps), f(p.p50, 2), f(p.p90, 2), f(p.p99, 2),
    p.meanBatch === undefined ? '—' : f(p.meanBatch, 2),
    p.failed === 0 ? '0' : `${p.failed} ${JSON.stringify(p.failures)}`, ceiling ? f(ceiling(p), 2) : '—', f(p.otherCpu, 0),
  ]);
}

/** v2 REST and gRPC on the MLP; ratio = the row's req/s / v2 REST's at the same concurrency. */
function protocolSection(p: ProtocolRows, head: string[]): string[] {
  const rest = (c: number) => at(p.v2Rest, c)?.rps ?? NaN;
  const rows = (label: string, points: ProtocolRows['v2Rest']) =>
    loadRows(points, (x) => x.rps / rest(x.concurrency)).map((r, i) => [label, ...r, f(points[i].serverCpuMsPerRequest, 3)]);
  return [
    `## The MLP over v2 REST and gRPC (same server, same tensors)`,
    `v2 REST: \`POST /v2/models/mlp/infer\` with JSON data (autocannon); gRPC: \`ModelInfer\` on one channel with`,
    `raw_input_contents or typed fp32_contents (our closed-loop client in the benchmark's process); ratio = req/s / v2 REST's;`,
    `server CPU = the server process's CPU time (all threads) per answered request, which the load generator's speed does not set:`,
    table(['transport', ...head, 'server CPU ms/req'], [...rows('v2 REST', p.v2Rest), ...rows('gRPC raw', p.grpcRaw), ...rows('gRPC typed', p.grpcTyped)]),
    ``,
  ];
}

/** The whole report as Markdown (also what the console shows). */
export function markdown(r: Results): string {
  const m = r.machine;
  const head = ['c', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'mean batch', 'failed', 'ratio', 'other CPU %'];
  const hand = (c: number) => at(r.load.handWrittenCnn, c)?.rps ?? NaN;
  const koa = (c: number) => at(r.load.bareKoa, c)?.rps ?? NaN;
  const serverPath = r.ceilings.imagePath.find((p) => p.pipeline === 'server handler' && p.batch > 1) ?? r.ceilings.imagePath[0];
  const handPath = r.ceilings.imagePath.find((p) => p.pipeline === 'hand-written')!;
  const pr = r.ceilings.profile;
  return [
    `# Benchmark results`,
    ``,
    `${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB; Node ${m.node}; onnxruntime-node ${m.onnxruntime}; sharp ${m.sharp}; ${m.platform}; ${m.date}.`,
    `Settings: ${JSON.stringify(r.settings)}.`,
    ``,
    `How: autocannon runs in the benchmark's own process on the same cores as the server (it takes CPU from the server as`,
    `it does from the baselines). Every target is measured at each concurrency in turn after a warm-up, and requests left`,
    `in flight by a run are drained before the next. Percentiles come from every 2xx response time at hrtime precision.`,
    `"other CPU %" is the share of all cores used meanwhile by processes other than the benchmark and the server under`,
    `test; the benchmark waits for quiet and measures again above 10%. Mean batch size = requests / batches between two`,
    `readings of the server's batch-size histogram (${r.batchSizeSource}). RSS is the server process's VmRSS.`,
    ``,
    `## Targets (issue 4)`,
    table(['target', 'goal', 'measured', 'met'], r.targets.map((t) => [t.name, t.goal, t.measured, t.met ? 'yes' : '**no**'])),
    ``,
    `## CNN (ResNet-18-shaped), 640×480 JPEG requests`,
    `Server (image_classifier, batch_size ${String((r.settings.served as Record<string, { batchSize: number }>).cnn.batchSize)}); ratio = server / hand-written:`,
    table(head, loadRows(r.load.serverCnn, (p) => p.rps / hand(p.concurrency))),
    ``,
    `Hand-written (node:http + piscina 2 workers × 1 thread + sharp, one image per run); ratio = hand-written / its pipeline's ceiling (${f(handPath.imagesPerSec)} img/s):`,
    table(head, loadRows(r.load.handWrittenCnn, (p) => p.rps / handPath.imagesPerSec)),
    ``,
    `## MLP (16→64→4), JSON tensor requests`,
    `Server (tensor, batch_size ${String((r.settings.served as Record<string, { batchSize: number }>).mlp.batchSize)}); ratio = server / bare Koa:`,
    table(head, loadRows(r.load.serverMlp, (p) => p.rps / koa(p.concurrency))),
    ``,
    `Bare Koa (raw-body + JSON.parse, constant reply):`,
    table(head, loadRows(r.load.bareKoa)),
    ``,
    ...(r.protocols ? protocolSection(r.protocols, head) : []),
    `Mean batch size source: ${r.batchSizeSource}.`,
    ``,
    `## Ceilings (no HTTP)`,
    `Raw onnxruntime-node in one process, ${r.ceilings.rawCnn[0]?.threads} intra-op threads:`,
    table(['model', 'batch', 'ms/run', 'items/s', 'other CPU %'], [
      ...r.ceilings.rawMlp.map((p) => ['MLP', String(p.batch), f(p.msPerRun, 3), f(p.itemsPerSec, 0), f(p.otherCpu, 0)]),
      ...r.ceilings.rawCnn.map((p) => ['CNN', String(p.batch), f(p.msPerRun, 2), f(p.itemsPerSec, 1), f(p.otherCpu, 0)]),
    ]),
    ``,
    `Whole image path (decode, resize, crop, normalise, infer) in Piscina workers × 1 thread:`,
    table(['pipeline', 'batch', 'workers', 'images/s', 'other CPU %'], r.ceilings.imagePath.map((p) => [p.pipeline, String(p.batch), String(p.workers), f(p.imagesPerSec), f(p.otherCpu, 0)])),
    ``,
    `Server CNN best / server-handler image path (batch ${serverPath.batch}): ${f(Math.max(...r.load.serverCnn.map((p) => p.rps)) / serverPath.imagesPerSec, 2)}; ` +
      `/ raw CNN at batch 8: ${f(Math.max(...r.load.serverCnn.map((p) => p.rps)) / (r.ceilings.rawCnn.find((p) => p.batch === 8)?.itemsPerSec ?? NaN), 2)}. ` +
      `Server MLP best / raw MLP at batch 32: ${f(Math.max(...r.load.serverMlp.map((p) => p.rps)) / (r.ceilings.rawMlp.find((p) => p.batch === 32)?.itemsPerSec ?? NaN), 4)}.`,
    ``,
    `Where one image's time goes (one at a time, this process; sharp concurrency ${pr.sharpThreads}): ` +
      `hand-written decode+resize ${f(pr.handWrittenDecodeResize, 2)} ms; server handler preprocess (decode, resize, crop, normalise) ${f(pr.handlerPreprocess, 2)} ms; ` +
      `normalisation loop alone ${f(pr.normaliseLoop, 3)} ms; CNN inference at batch 1 on 1 thread ${f(pr.inferBatch1OneThread, 2)} ms.`,
    ``,
    `## Overload: MLP, ${r.overload[0]?.connections ?? 'n/a'} connections, job_queue_size=${OVERLOAD_QUEUE_SIZE}`,
    `Each connection sends as fast as it is answered. Admitted = answered 200; client-side percentiles are what the load`,
    `generator saw (it shares the cores and is itself saturated at this many connections), in-server ones come from the`,
    `access log (request read to answer written, queue wait included). Shed = 503 (queue full or past the queue timeout);`,
    `connection errors = connections closed past max_connections. The first row is the baseline, same run and machine.`,
    table(['server settings', 'admitted/s', 'admitted p50 ms', 'admitted p99 ms', 'in-server p50 / p99 ms', 'shed 503', '503 p99 ms', 'connection errors'],
      r.overload.map((p) => [p.label, f(p.admittedRps, 0), f(p.p50, 1), f(p.p99, 1), `${f(p.serverP50, 2)} / ${f(p.serverP99, 2)}`, String(p.shed), f(p.shedP99, 1), String(p.errors)])),
    ``,
    `## Memory and start-up`,
    `Server RSS with the CNN (model ${f(r.memory.modelMB)} MB), 1 intra-op thread per worker: ` +
      Object.entries(r.memory.rssMB).map(([w, v]) => `${w} worker(s): ${f(v.afterLoad)} MB after load, ${f(v.afterTraffic)} MB after traffic`).join('; ') +
      `; per added worker (slope from 1 to 3 workers; each figure the median of 5 readings) ${f(r.memory.perWorkerMB)} MB after traffic, ` +
      `${f(r.memory.perWorkerAfterLoadMB)} MB after load. Hand-written server, same traffic: ` +
      Object.entries(r.memory.handWrittenRssMB).map(([w, v]) => `${w} worker(s): ${f(v.afterLoad)} MB after load, ${f(v.afterTraffic)} MB after traffic`).join('; ') +
      `; per added worker ${f(r.memory.handWrittenPerWorkerMB)} MB.`,
    ``,
    `\`modelserver --start\` with one archive, 2 workers (median of 3 tries, ms from running the command):`,
    table(['archive', 'server process logs its first line', 'model loaded', '/ping Healthy', 'command returned'],
      ([['mlp.mar', 'mlp'], ['cnn.mar', 'cnn'], ['cnn.mar, zip-store', 'cnnZipStore'], ['cnn, Triton repository folder', 'cnnRepository']] as const).flatMap(([label, k]) => {
        const s = r.startup[k];
        return s ? [[label, f(median(s.firstLogMs), 0), f(median(s.modelLoadedMs), 0), f(median(s.healthyMs), 0), f(median(s.commandMs), 0)]] : [];
      })),
    ``,
    ...(r.repositoryVsMar?.length
      ? [
          `Repository vs .mar, the MLP over v2 JSON at c=32 in one server, ${r.repositoryVsMar.length} rounds (the order alternating): ` +
            `mlp.mar ${r.repositoryVsMar.map((p) => f(p.mar.rps)).join(', ')} req/s, repository folder ${r.repositoryVsMar.map((p) => f(p.repository.rps)).join(', ')} req/s; ` +
            `median ratio ${f(median(r.repositoryVsMar.map((p) => (100 * p.repository.rps) / p.mar.rps)), 1)}%. Start-up of the CNN from the repository ` +
            `(served in place, nothing unpacked) vs cnn.mar: see the start-up table, "model loaded" minus "first line".`,
          ``,
        ]
      : []),
  ].join('\n');
}

export function writeResults(dir: string, r: Results, svg: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${dir}/results.json`, JSON.stringify(r, null, 2) + '\n');
  fs.writeFileSync(`${dir}/results.md`, markdown(r));
  fs.writeFileSync(`${dir}/chart.svg`, svg);
}
