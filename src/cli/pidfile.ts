/** The pid file `--stop` reads: the running server's pid and, once it answers, its addresses. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface PidInfo {
  pid: number;
  /** Set once the server answers; absent while it starts. */
  inference?: string;
  management?: string;
  metrics?: string;
  /** The folder the server was started from, and its config file: `--stop` says which server it stopped. */
  cwd?: string;
  configFile?: string;
  /** Models named at start that did not load (written with the addresses). */
  failed?: { model: string; url: string; error: string; fromSnapshot?: boolean }[];
  /** host:port of the gRPC listeners. */
  grpcInference?: string;
  grpcManagement?: string;
}

/**
 * The pid file of the server with these addresses (`MS_PID_FILE` wins): two servers on different ports, started
 * from different folders, each get their own, and `--stop` finds the one its configuration names. The key is the
 * configured addresses (as written, so port 0 servers share one and should pass --pid-file).
 */
export function defaultPidFile(addresses: readonly string[]): string {
  if (process.env.MS_PID_FILE) return process.env.MS_PID_FILE;
  const key = createHash('sha256').update(addresses.join('|')).digest('hex').slice(0, 12);
  const port = /:(\d+)\/?$/.exec(addresses[0] ?? '')?.[1] ?? 'x';
  return path.join(os.tmpdir(), `.modelserver-${port}-${key}.pid`);
}

/** One line naming a running server, for `--stop` and "already running". */
export function describeServer(info: PidInfo): string {
  const where = [
    info.inference && `inference ${info.inference}`,
    info.management && `management ${info.management}`,
    info.cwd && `started in ${info.cwd}`,
    info.configFile && `config ${info.configFile}`,
  ].filter(Boolean);
  return `pid ${info.pid}${where.length ? `: ${where.join(', ')}` : ''}`;
}

export function readPidFile(file: string): PidInfo | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as PidInfo;
    return Number.isInteger(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

export function writePidFile(file: string, info: PidInfo): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(info));
  fs.renameSync(tmp, file);
}

/** Removes the pid file if it is still ours. */
export function removePidFile(file: string, pid = process.pid): void {
  if (readPidFile(file)?.pid === pid) fs.rmSync(file, { force: true });
}

/** True while the process runs. A zombie (exited, not yet reaped by its new parent) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): kill(0) is all we have
  }
}
