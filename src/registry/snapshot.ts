/**
 * Snapshots: the registered models, versions, default versions, worker counts and batch settings, written
 * atomically (temporary file, fsync, rename, fsync of the folder) after every change, so that killing the
 * server at any moment and starting it again restores the same state. The shape is TorchServe's
 * `model_snapshot` JSON.
 */
import fs from 'node:fs/promises';
import { openSync, fsyncSync, closeSync } from 'node:fs';
import path from 'node:path';
import type { Registry } from './registry.ts';

export interface SnapshotVersion {
  defaultVersion: boolean;
  marName: string;
  minWorkers: number;
  maxWorkers: number;
  batchSize: number;
  maxBatchDelay: number;
  responseTimeout: number;
  /** Ours: a handler given at registration in place of the manifest's. */
  handler?: string;
  /** Ours: the sessions' intra-op threads, so a restart keeps the thread budget it had. */
  intraOpThreads?: number;
}

export interface ModelSnapshot {
  name: string;
  modelCount: number;
  created: number;
  models: Record<string, Record<string, SnapshotVersion>>;
}

export const SNAPSHOT_FILE = 'model_snapshot.json';

export function takeSnapshot(registry: Registry): ModelSnapshot {
  const models: ModelSnapshot['models'] = {};
  let count = 0;
  for (const mv of registry.all()) {
    if (mv.state === 'FAILED' || mv.state === 'UNLOADING') continue;
    const s = mv.settings;
    const v: SnapshotVersion = {
      defaultVersion: registry.defaultVersionOf(mv.name) === mv.version,
      marName: mv.url,
      minWorkers: s.minWorkers,
      maxWorkers: s.maxWorkers,
      batchSize: s.batchSize,
      maxBatchDelay: s.maxBatchDelay,
      responseTimeout: s.responseTimeout,
      intraOpThreads: s.intraOpThreads,
    };
    if (mv.handler !== mv.manifest.model.handler) v.handler = mv.handler;
    (models[mv.name] ??= {})[mv.version] = v;
    count++;
  }
  return { name: 'snapshot', modelCount: count, created: Date.now(), models };
}

/** Writes snapshots one at a time; a change during a write is written right after it (latest wins). */
export class SnapshotWriter {
  private writing?: Promise<void>;
  private again = false;

  constructor(
    private readonly dir: string,
    private readonly registry: Registry,
    private readonly onError: (err: Error) => void,
  ) {}

  get file(): string {
    return path.join(this.dir, SNAPSHOT_FILE);
  }

  /** Schedules a write of the registry's current state. */
  changed(): void {
    if (this.writing) {
      this.again = true;
      return;
    }
    this.writing = this.loop().finally(() => (this.writing = undefined));
  }

  /** Resolves when every scheduled write is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await writeAtomically(this.file, JSON.stringify(takeSnapshot(this.registry), null, 2) + '\n');
      } catch (err) {
        this.onError(err as Error);
      }
    } while (this.again);
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
  const dirFd = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** The last snapshot in `dir`, or undefined when there is none. A damaged one is an error that says so. */
export async function readSnapshot(dir: string): Promise<ModelSnapshot | undefined> {
  const file = path.join(dir, SNAPSHOT_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let snap: ModelSnapshot;
  try {
    snap = JSON.parse(text) as ModelSnapshot;
  } catch (err) {
    throw new Error(`the snapshot ${file} is not valid JSON (${(err as Error).message}); move it away or start with --models`);
  }
  if (!snap || typeof snap.models !== 'object' || snap.models === null) {
    throw new Error(`the snapshot ${file} has no "models" object; move it away or start with --models`);
  }
  return snap;
}
