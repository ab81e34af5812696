/**
 * What a TorchServe user brings to `model-archiver` that has no place here, answered with the way forward:
 * Python-only options (`--model-file`, `--requirements-file`, `--runtime python`, a `.py` handler) and a PyTorch
 * or TorchScript `--serialized-file`, which onnxruntime cannot load.
 */
import { notOnnxMessage, ONNX_EXPORT_HINT, sniffModelFormat } from '../archive/model-format.ts';

export interface TorchServeArgs {
  serializedFile?: string;
  handler: string;
  modelFile?: string;
  requirementsFile?: string;
  runtime?: string;
}

/** A message saying what to do instead, or undefined when the arguments are ours. */
export async function torchServeOnly(a: TorchServeArgs): Promise<string | undefined> {
  if (a.modelFile !== undefined) {
    return `--model-file ${a.modelFile}: modelserver runs no Python, so it needs no model class; the graph travels in the ONNX file. ` +
      `Drop --model-file and pass the exported model as --serialized-file: ${ONNX_EXPORT_HINT}`;
  }
  if (a.requirementsFile !== undefined) {
    return `--requirements-file ${a.requirementsFile}: handlers are JavaScript and run in the server's Node.js; there is nothing to pip install. ` +
      'Bundle a handler\'s own npm imports into the handler file, or pass the files beside it with --extra-files ' +
      "(sharp and onnxruntime-node come from the server)";
  }
  if (a.runtime !== undefined && a.runtime !== 'node') {
    return `--runtime ${a.runtime}: the only runtime is node (handlers are ES modules); leave --runtime out`;
  }
  if (/\.py(:|$)/.test(a.handler)) {
    return `--handler ${a.handler}: handlers are JavaScript ES modules (handler.js, exporting a class or an object with ` +
      'preprocess/inference/postprocess or handle), or a built-in name such as image_classifier or tensor; ' +
      'README "Coming from TorchServe" shows how a Python handler maps';
  }
  if (a.serializedFile !== undefined) {
    const format = await sniffModelFormat(a.serializedFile).catch(() => 'unknown' as const);
    const msg = notOnnxMessage(format, a.serializedFile);
    if (msg) return `--serialized-file ${msg}`;
  }
  return undefined;
}
