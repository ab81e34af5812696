/** The README chart: throughput and p99 against concurrency, the server beside its baselines. */
import { chartSvg } from './chart.ts';
import type { LoadPoint } from './load.ts';
import type { Results } from './report.ts';

export function figure(r: Results, concurrency: number[], secondsPerPoint: number): string {
  const ys = (xs: LoadPoint[], k: 'rps' | 'p99') => concurrency.map((c) => xs.find((p) => p.concurrency === c)?.[k] ?? NaN);
  const server = '#1f6feb';
  const other = '#d4582a';
  const m = r.machine;
  const pair = (title: string, unit: string, k: 'rps' | 'p99', ours: LoadPoint[], theirs: LoadPoint[], label: string) => ({
    title,
    yLabel: unit,
    series: [
      { label: 'modelserver', colour: server, ys: ys(ours, k) },
      { label, colour: other, dashed: true, ys: ys(theirs, k) },
    ],
  });
  const l = r.load;
  return chartSvg(
    [
      pair('CNN, 640×480 JPEG: throughput', 'requests/s', 'rps', l.serverCnn, l.handWrittenCnn, 'hand-written (http + piscina + sharp)'),
      pair('CNN, 640×480 JPEG: p99 latency', 'p99 ms', 'p99', l.serverCnn, l.handWrittenCnn, 'hand-written'),
      pair('MLP, JSON tensors: throughput', 'requests/s', 'rps', l.serverMlp, l.bareKoa, 'bare Koa (no inference)'),
      pair('MLP, JSON tensors: p99 latency', 'p99 ms', 'p99', l.serverMlp, l.bareKoa, 'bare Koa'),
    ],
    concurrency,
    `${m.cpu}, ${m.cores} cores, Node ${m.node}, onnxruntime-node ${m.onnxruntime}; ${secondsPerPoint} s per point; ${m.date.slice(0, 10)}`,
  );
}
