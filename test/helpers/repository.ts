/** Writes Triton model repositories for tests: `<root>/<model>/config.pbtxt` and `<root>/<model>/<version>/model.onnx`. */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface RepoModel {
  /** config.pbtxt text; omitted: no config file. */
  config?: string;
  /** Model bytes by version folder. */
  versions?: Record<string, Uint8Array>;
  /** A bare model: `model.onnx` right in the model's folder. */
  bare?: Uint8Array;
}

export async function writeRepository(root: string, models: Record<string, RepoModel>): Promise<string> {
  await fs.mkdir(root, { recursive: true });
  for (const [name, m] of Object.entries(models)) {
    const dir = path.join(root, name);
    await fs.mkdir(dir, { recursive: true });
    if (m.config !== undefined) await fs.writeFile(path.join(dir, 'config.pbtxt'), m.config);
    if (m.bare) await fs.writeFile(path.join(dir, 'model.onnx'), m.bare);
    for (const [v, bytes] of Object.entries(m.versions ?? {})) {
      await fs.mkdir(path.join(dir, v), { recursive: true });
      await fs.writeFile(path.join(dir, v, 'model.onnx'), bytes);
    }
  }
  return root;
}
