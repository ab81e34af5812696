/**
 * `.mar` archives and no-archive folders: unpacked (checked entry by entry, `archive/unpack.ts`) into a fresh
 * scratch folder, with the manifest's name and version and the model-config YAML's settings.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { unpackArchive } from '../archive/unpack.ts';
import { ServeError } from '../errors.ts';
import { readModelConfig, settingsFromModelConfig } from './model-config.ts';
import type { ModelSource, PreparedVersion, PrepareOptions } from './source.ts';

export function marSource(full: string, url: string): ModelSource {
  return {
    kind: 'mar',
    url,
    async prepare(opts: PrepareOptions): Promise<PreparedVersion[]> {
      if (opts.config !== undefined) {
        throw new ServeError('BadRequest', `${url}: a model config given at load applies to Triton repository models; an archive takes its settings from its model-config YAML`);
      }
      const dir = await opts.scratch(path.basename(url));
      try {
        const { manifest } = await unpackArchive(full, dir);
        const modelConfig = await readModelConfig(dir, manifest, url);
        return [
          {
            name: opts.name ?? manifest.model.modelName,
            version: manifest.model.modelVersion,
            dir,
            ownsDir: true,
            manifest,
            modelConfig,
            settings: settingsFromModelConfig(modelConfig, url),
          },
        ];
      } catch (err) {
        await fs.rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
  };
}
