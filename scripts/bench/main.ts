/**
 * `npm run bench`: builds its models and archives in a temp folder, measures the ceilings (raw onnxruntime, the
 * image path in worker threads, a bare Koa endpoint, a hand-written server) and the real server at concurrency
 * 1, 8, 32 and 64, then memory per worker and start-up; prints the report and writes bench/results.json,
 * bench/results.md and bench/chart.svg. The target points (CNN c=1 and c=32, MLP c=64, each with its baseline) are
 * measured BENCH_TARGET_ROUNDS more times after the sweep (default 2) and judged on the median. BENCH_DURATION
 * sets the seconds per load point (default 6); BENCH_KEEP=1 keeps the temp folder (models, archives, server
 * logs); BENCH_QUIET_WAIT caps the seconds spent waiting for other processes on the machine to go quiet before a
 * measurement (default 120); BENCH_OUT writes the results to another folder (default bench/).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cores, imagePath, rawInference } from './ceilings.ts';
import { quietest } from './cpu-share.ts';
import { figure } from './figure.ts';
import { buildFixtures, jpegRequests, jsonRequests, MLP_INPUTS, SERVED } from './fixtures.ts';
import { BARE_KOA, HANDWRITTEN, ROOT, startBaseline, startModelServer, type Running } from './processes.ts';
import { profileImagePath } from './profile.ts';
import { protocolRows } from './protocols.ts';
import { machine, markdown, targets, writeResults, type Results, type ServerPoint, type Noted } from './report.ts';
import { memoryPerWorker, startupTime } from './server-costs.ts';
import { overload } from './overload.ts';
import { interleavedSweep } from './sweep.ts';
import { buildRepository, v2MlpRequests } from './repository.ts';

const CONCURRENCY = [1, 8, 32, 64];
const SECONDS = Number(process.env.BENCH_DURATION ?? 6);
if (!(SECONDS > 0)) throw new Error(`BENCH_DURATION must be a positive number of seconds, not "${process.env.BENCH_DURATION}"`);
const WARMUP = Math.min(2, Math.max(0.5, SECONDS / 4));
/** Rounds of the target points after the sweep (BENCH_TARGET_ROUNDS, default 2): targets use the median. */
const TARGET_ROUNDS = Number(process.env.BENCH_TARGET_ROUNDS ?? 2);
if (!(Number.isInteger(TARGET_ROUNDS) && TARGET_ROUNDS >= 0)) throw new Error(`BENCH_TARGET_ROUNDS must be a whole number, not "${process.env.BENCH_TARGET_ROUNDS}"`);
const CEILING_SECONDS = Math.max(1, SECONDS / 3);
const OUT = path.resolve(process.env.BENCH_OUT ?? path.join(ROOT, 'bench'));

const say = (msg: string) => process.stderr.write(`${msg}\n`);

const running = new Set<Running>();
async function started<T extends Running>(p: Promise<T>): Promise<T> {
  const r = await p;
  running.add(r);
  return r;
}

async function ceilings(f: Awaited<ReturnType<typeof buildFixtures>>, n: number): Promise<Results['ceilings']> {
  say(`ceilings: raw onnxruntime-node (${n} intra-op threads), image path in workers, profile`);
  const raw = async (file: string, rowSize: number, dims: number[]) => {
    const out = [];
    for (const batch of [1, 8, 32]) {
      out.push(await quietest([], async () => (await rawInference(file, rowSize, dims, [batch], n, CEILING_SECONDS))[0], say));
    }
    say(`  raw ${path.basename(file)}: ${out.map((p) => `batch ${p.batch} ${p.itemsPerSec.toFixed(1)}/s`).join(', ')}`);
    return out;
  };
  const rawMlp = await raw(f.mlpFile, MLP_INPUTS, [MLP_INPUTS]);
  const rawCnn = await raw(f.cnnFile, 3 * 224 * 224, [3, 224, 224]);
  const profile = await quietest([], () => profileImagePath(f.cnnFile, f.jpegs), say);
  const imagePaths = [];
  for (const [pipeline, batch] of [['hand-written', 1], ['server handler', 1], ['server handler', SERVED.cnn.batchSize]] as const) {
    imagePaths.push(await quietest([], () => imagePath(pipeline, f.cnnFile, f.jpegs, batch, n, CEILING_SECONDS * 1.5), say));
    say(`  image path, ${pipeline}, batch ${batch}: ${imagePaths.at(-1)!.imagesPerSec.toFixed(1)} img/s`);
  }
  return { rawMlp, rawCnn, imagePath: imagePaths, profile };
}

async function run(tmp: string): Promise<Results> {
  const n = cores();
  say(`building models and archives in ${tmp}`);
  const f = await buildFixtures(tmp);
  const repository = await buildRepository(f);
  const ceiling = await ceilings(f, n);

  say(`load: bare Koa, hand-written server (${n} workers × 1 thread), modelserver (${n} workers per model); ${SECONDS} s per point`);
  const koa = await started(startBaseline(BARE_KOA));
  const hand = await started(startBaseline(HANDWRITTEN, [f.cnnFile, String(n)]));
  const server = await started(
    startModelServer({ dir: path.join(tmp, 'server'), store: f.store, archives: ['mlp.mar', 'cnn.mar'], workers: n, repository: repository.mlp }),
  );
  const koaTarget = { name: 'bare Koa', process: koa, requests: jsonRequests(f, '/') };
  const mlpTarget = { name: 'server mlp', process: server, requests: jsonRequests(f, '/predictions/mlp'), model: { server, name: 'mlp' } };
  const handTarget = { name: 'hand-written', process: hand, requests: jpegRequests(f, '/') };
  const cnnTarget = { name: 'server cnn', process: server, requests: jpegRequests(f, '/predictions/cnn'), model: { server, name: 'cnn' } };
  const sweep = { seconds: SECONDS, warmupSeconds: WARMUP, say };
  const { points, batchSource } = await interleavedSweep([koaTarget, mlpTarget, handTarget, cnnTarget], { ...sweep, concurrency: CONCURRENCY });
  const targetRounds: Results['targetRounds'] = [];
  for (let round = 1; round <= TARGET_ROUNDS; round++) {
    say(`target points again (round ${round} of ${TARGET_ROUNDS}), each baseline right before the server`);
    const mlp = await interleavedSweep([koaTarget, mlpTarget], { ...sweep, concurrency: [64] });
    const cnn = await interleavedSweep([handTarget, cnnTarget], { ...sweep, concurrency: [1, 32] });
    targetRounds.push({
      bareKoa: mlp.points['bare Koa'],
      serverMlp: mlp.points['server mlp'] as Noted<ServerPoint>[],
      handWrittenCnn: cnn.points['hand-written'],
      serverCnn: cnn.points['server cnn'] as Noted<ServerPoint>[],
    });
  }
  say('repository vs .mar: the MLP over v2 at c=32, the same model from mlp.mar and from a Triton repository folder, 3 rounds');
  const repoTargets = [
    { name: 'v2 mlp.mar', process: server, requests: v2MlpRequests('/v2/models/mlp/infer'), model: { server, name: 'mlp' } },
    { name: 'v2 repository mlp', process: server, requests: v2MlpRequests('/v2/models/mlp_repo/infer'), model: { server, name: 'mlp_repo' } },
  ];
  const repoRounds: Array<{ mar: Noted<ServerPoint>; repository: Noted<ServerPoint> }> = [];
  for (let round = 0; round < 3; round++) {
    // Alternating which goes first, so a drift of the machine does not favour one.
    const order = round % 2 === 0 ? repoTargets : [...repoTargets].reverse();
    const r = await interleavedSweep(order, { ...sweep, concurrency: [32] });
    repoRounds.push({ mar: r.points['v2 mlp.mar'][0] as Noted<ServerPoint>, repository: r.points['v2 repository mlp'][0] as Noted<ServerPoint> });
  }
  say(`transports on the MLP: v2 REST, gRPC raw_input_contents, gRPC typed contents; ${SECONDS / 2} s per point`);
  const protocols = await protocolRows(server, f, SECONDS / 2, WARMUP / 2, say);
  await stopAll();

  say('memory per worker: the CNN with 1, 2, then 3 workers');
  const memory = await memoryPerWorker(tmp, f.store, f.cnnFile, jpegRequests(f, '/predictions/cnn'), 2 * SERVED.cnn.batchSize, Math.max(2, SECONDS / 2));
  say('start-up: modelserver --start with one archive until /ping answers Healthy');
  const startup = {
    mlp: await startupTime(tmp, f.store, 'mlp.mar', 3),
    cnn: await startupTime(tmp, f.store, 'cnn.mar', 3),
    cnnZipStore: await startupTime(tmp, f.storedStore, 'cnn.mar', 3),
    cnnRepository: await startupTime(tmp, f.store, 'cnn_repo', 3, repository.cnn),
  };

  say('overload: the MLP under far more connections than it can serve, bounds off, then on');
  const overloadRows = await overload(tmp, f.store, jsonRequests(f, '/predictions/mlp'), n, SECONDS, say);

  const partial: Omit<Results, 'targets'> = {
    machine: machine(),
    settings: { secondsPerPoint: SECONDS, warmupSeconds: WARMUP, targetRounds: TARGET_ROUNDS, workers: n, served: SERVED, loadGenerator: 'autocannon, same machine, loopback' },
    ceilings: ceiling,
    load: {
      serverMlp: points['server mlp'] as Noted<ServerPoint>[],
      serverCnn: points['server cnn'] as Noted<ServerPoint>[],
      handWrittenCnn: points['hand-written'],
      bareKoa: points['bare Koa'],
    },
    targetRounds,
    protocols,
    batchSizeSource: batchSource,
    memory,
    startup,
    repositoryVsMar: repoRounds,
    overload: overloadRows,
  };
  return { ...partial, targets: targets(partial) };
}

async function stopAll(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((r) => r.stop().catch(() => {})));
}

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'modelserver-bench-'));
  const cleanup = async () => {
    await stopAll();
    if (process.env.BENCH_KEEP) say(`kept ${tmp}`);
    else await fs.rm(tmp, { recursive: true, force: true });
  };
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const results = await run(tmp);
    writeResults(OUT, results, figure(results, CONCURRENCY, SECONDS));
    process.stdout.write(`\n${markdown(results)}\nwritten: ${path.relative(process.cwd(), OUT)}/results.json, results.md, chart.svg\n`);
  } finally {
    await cleanup();
  }
}

await main();
