/**
 * The server's scratch folder: one extracted folder per model version. Its `node_modules` links `sharp` and
 * `onnxruntime-node` to the server's own copies, so a handler file inside an archive that imports them gets
 * the very modules the server uses (one copy of each native module per process), wherever it was extracted.
 */
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Packages a handler inside an archive may import from the server. */
export const SHARED_PACKAGES = ['sharp', 'onnxruntime-node'] as const;

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (!existsSync(path.join(dir, 'package.json')) || path.basename(dir) !== name.split('/').pop()) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of package ${name}`);
    dir = up;
  }
  return dir;
}

export class WorkDir {
  private constructor(readonly root: string) {}

  static async create(parent = os.tmpdir()): Promise<WorkDir> {
    const root = await fs.mkdtemp(path.join(parent, 'modelserver-'));
    const modules = path.join(root, 'models', 'node_modules');
    await fs.mkdir(modules, { recursive: true });
    for (const name of SHARED_PACKAGES) {
      await fs.symlink(packageDir(name), path.join(modules, name), 'dir');
    }
    return new WorkDir(root);
  }

  /**
   * A new, empty folder of its own for one registration's extracted archive, created atomically (mkdtemp), so
   * that registrations of one archive running at once never share or race for a folder.
   */
  async folderFor(name: string, version: string): Promise<string> {
    const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
    return fs.mkdtemp(path.join(this.root, 'models', `${safe(name)}-${safe(version)}-`));
  }

  async remove(dir: string): Promise<void> {
    await fs.rm(dir, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    await fs.rm(this.root, { recursive: true, force: true });
  }
}
