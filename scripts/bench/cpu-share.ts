/**
 * How much of the machine other processes used while something was measured (Linux /proc; NaN elsewhere). The
 * benchmark shares its cores with whatever else runs, so each figure carries this and noisy ones are retried.
 */
import fs from 'node:fs';

interface Sample {
  total: number;
  busy: number;
  ours: number;
}

function read(pids: number[]): Sample | undefined {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = cpu.reduce((a, b) => a + b, 0);
    const busy = total - cpu[3] - cpu[4]; // less idle and iowait
    let ours = 0;
    for (const pid of pids) {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ours += Number(fields[11]) + Number(fields[12]); // utime + stime, all threads
    }
    return { total, busy, ours };
  } catch {
    return undefined;
  }
}

/** Runs `fn` and returns its result with `otherCpu`: % of all cores used by processes other than `pids`. */
export async function accounted<T extends object>(pids: number[], fn: () => Promise<T>): Promise<T & { otherCpu: number }> {
  const all = [process.pid, ...pids];
  const a = read(all);
  const value = await fn();
  const b = read(all);
  const otherCpu = a && b && b.total > a.total ? (100 * Math.max(0, b.busy - a.busy - (b.ours - a.ours))) / (b.total - a.total) : NaN;
  return { ...value, otherCpu };
}

/** Above this share of other load a measurement is taken again (once), keeping the quieter one. */
export const NOISY_PERCENT = 10;

/** Seconds the whole run may spend waiting for other processes to calm down (BENCH_QUIET_WAIT, default 120). */
let waitBudgetMs = 1000 * Number(process.env.BENCH_QUIET_WAIT ?? 120);

/** Waits, within the run's budget, until other processes use at most NOISY_PERCENT over half a second. */
export async function settle(pids: number[] = []): Promise<void> {
  while (waitBudgetMs > 0) {
    const started = Date.now();
    const { otherCpu } = await accounted(pids, () => new Promise<object>((r) => setTimeout(() => r({}), 500)));
    waitBudgetMs -= Date.now() - started;
    if (!(otherCpu > NOISY_PERCENT)) return;
  }
}

/** Measures once the machine is quiet; if others still got busy meanwhile, once more, keeping the quieter. */
export async function quietest<T extends object>(pids: number[], fn: () => Promise<T>, say: (m: string) => void): Promise<T & { otherCpu: number }> {
  await settle(pids);
  const first = await accounted(pids, fn);
  if (!(first.otherCpu > NOISY_PERCENT)) return first;
  say(`    (other processes used ${first.otherCpu.toFixed(0)}% of the CPU; measuring again)`);
  await settle(pids);
  const second = await accounted(pids, fn);
  return second.otherCpu < first.otherCpu ? second : first;
}
