/**
 * A bare ONNX model: a folder holding `model.onnx` (KServe's `/mnt/models`), or a `.onnx` file. Served in place
 * with the `tensor` handler as version 1, named after its folder unless a name is given; its configuration is
 * completed from the model as for a Triton folder without `config.pbtxt`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { manifestFor, type ModelSource, type PreparedVersion, type PrepareOptions } from './source.ts';
import { checkServable, parseConfigJson } from './triton-config.ts';
import { TritonModel } from './triton-model.ts';

export function bareOnnxSource(full: string, url: string): ModelSource {
  return {
    kind: 'onnx',
    url,
    async prepare(opts: PrepareOptions): Promise<PreparedVersion[]> {
      const isFile = (await fs.stat(full)).isFile();
      const dir = isFile ? path.dirname(full) : full;
      const file = isFile ? path.basename(full) : 'model.onnx';
      const name = opts.name ?? path.basename(dir);
      const cfg = opts.config !== undefined ? parseConfigJson(opts.config, `model "${url}"`) : {};
      checkServable(cfg, `model "${url}"`);
      const triton = new TritonModel({ ...cfg, name }, `model "${url}"`, false);
      return [
        {
          name,
          version: opts.version ?? '1',
          dir,
          ownsDir: false,
          manifest: manifestFor(name, opts.version ?? '1', file),
          modelConfig: {},
          settings: triton.settings(),
          triton,
        },
      ];
    },
  };
}
