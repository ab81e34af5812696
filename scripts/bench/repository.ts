/**
 * The repository row: the same models served from a Triton repository folder (config.pbtxt + 1/model.onnx,
 * served in place) and from a `.mar` (unpacked at load), compared on start-up to /ping Healthy and on v2
 * throughput in one server.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Request } from 'autocannon';
import { SERVED, MLP_INPUTS, type Fixtures } from './fixtures.ts';
import { seededRandom } from '../lib/onnx-models.ts';

/**
 * Two repositories, each with one model named `<model>_repo` and the archive's batching: the MLP's (served beside
 * the archives for the load comparison) and the CNN's (for start-up).
 */
export async function buildRepository(f: Fixtures): Promise<{ mlp: string; cnn: string }> {
  for (const [name, file, input, output, dims] of [
    ['mlp_repo', f.mlpFile, 'input', 'output', `[ ${MLP_INPUTS} ]`],
    ['cnn_repo', f.cnnFile, 'input', 'output', '[ 3, 224, 224 ]'],
  ] as const) {
    const s = SERVED[name === 'mlp_repo' ? 'mlp' : 'cnn'];
    const repo = path.join(f.dir, `repository-${name}`);
    await fs.mkdir(path.join(repo, name, '1'), { recursive: true });
    await fs.copyFile(file, path.join(repo, name, '1', 'model.onnx'));
    await fs.writeFile(
      path.join(repo, name, 'config.pbtxt'),
      `backend: "onnxruntime"\nmax_batch_size: ${s.batchSize}\ninput [ { name: "${input}" data_type: TYPE_FP32 dims: ${dims} } ]\n` +
        `output [ { name: "${output}" data_type: TYPE_FP32 dims: [ -1 ] } ]\ndynamic_batching { max_queue_delay_microseconds: ${s.maxBatchDelay * 1000} }\n`,
    );
  }
  return { mlp: path.join(f.dir, 'repository-mlp_repo'), cnn: path.join(f.dir, 'repository-cnn_repo') };
}

/** v2 JSON infer requests for the MLP, the same rows as the /predictions bodies. */
export function v2MlpRequests(urlPath: string): Request[] {
  return Array.from({ length: 16 }, (_, i) => {
    const rand = seededRandom(1000 + i);
    const row = Array.from({ length: MLP_INPUTS }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4);
    const body = JSON.stringify({ inputs: [{ name: 'input', shape: [1, MLP_INPUTS], datatype: 'FP32', data: row }] });
    return { method: 'POST', path: urlPath, headers: { 'content-type': 'application/json' }, body };
  });
}
