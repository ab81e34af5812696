/**
 * TorchServe's host gauges (CPU, memory, disk; `Level="Host"`), read when Prometheus scrapes rather than on
 * a timer. CPUUtilization is the busy share of all cores since the previous scrape (since start on the first).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { Gauge, type Registry } from 'prom-client';

const MB = 1024 * 1024;
const GB = 1024 * MB;

interface CpuSample {
  idle: number;
  total: number;
}

function sampleCpu(): CpuSample {
  let idle = 0;
  let total = 0;
  for (const c of os.cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
  }
  return { idle, total };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export function registerHostMetrics(registry: Registry, hostname: string, diskPath = '/'): void {
  const labels = { Level: 'Host', Hostname: hostname };
  const gauge = (name: string, help: string, read: () => number | Promise<number | undefined>) =>
    new Gauge({
      name,
      help,
      labelNames: ['Level', 'Hostname'] as const,
      registers: [registry],
      async collect() {
        const v = await read();
        if (v !== undefined) this.set(labels, round2(v));
      },
    });

  let prev = sampleCpu();
  let lastCpu = 0;
  gauge('CPUUtilization', 'CPU utilization on the host in Percent.', () => {
    const now = sampleCpu();
    const total = now.total - prev.total;
    if (total > 0) {
      lastCpu = (100 * (total - (now.idle - prev.idle))) / total;
      prev = now;
    }
    return lastCpu;
  });
  // os.freemem() is the memory available to new processes (MemAvailable on Linux), as psutil's `available`.
  gauge('MemoryUsed', 'Memory used on the host in Megabytes.', () => (os.totalmem() - os.freemem()) / MB);
  gauge('MemoryAvailable', 'Memory available on the host in Megabytes.', () => os.freemem() / MB);
  gauge('MemoryUtilization', 'Memory utilization on the host in Percent.', () => (100 * (os.totalmem() - os.freemem())) / os.totalmem());

  const disk = async () => {
    try {
      const s = await fs.statfs(diskPath);
      return { total: s.blocks * s.bsize, free: s.bavail * s.bsize, used: (s.blocks - s.bfree) * s.bsize };
    } catch {
      return undefined;
    }
  };
  gauge('DiskUsage', 'Disk used on the host in Gigabytes.', async () => {
    const d = await disk();
    return d && d.used / GB;
  });
  gauge('DiskAvailable', 'Disk available on the host in Gigabytes.', async () => {
    const d = await disk();
    return d && d.free / GB;
  });
  gauge('DiskUtilization', 'Disk utilization on the host in Percent.', async () => {
    const d = await disk();
    return d && d.used + d.free > 0 ? (100 * d.used) / (d.used + d.free) : undefined;
  });
}
