/** The pid file `--stop` reads: the running server's pid and, once it answers, its addresses. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface PidInfo {
  pid: number;
  /** Set once the server answers; absent while it starts. */
  inference?: string;
  management?: string;
  metrics?: string;
  /** host:port of the gRPC listeners. */
  grpcInference?: string;
  grpcManagement?: string;
}

export function defaultPidFile(): string {
  return process.env.MS_PID_FILE ?? path.join(os.tmpdir(), '.modelserver.pid');
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
