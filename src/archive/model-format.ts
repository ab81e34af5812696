/**
 * Recognises what a serialized model file is before onnxruntime sees it, so that a PyTorch user who passes a
 * `.pt` gets the way forward (export to ONNX) instead of onnxruntime's `Protobuf parsing failed`.
 */
import { open } from 'node:fs/promises';

export type ModelFormat = 'onnx' | 'torchscript' | 'pytorch-zip' | 'pickle' | 'safetensors' | 'unknown';

/** Reads the file's first bytes (and, for a zip, its entry names near the start) to tell its format. */
export async function sniffModelFormat(file: string): Promise<ModelFormat> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return formatOf(head.subarray(0, bytesRead), file);
  } finally {
    await fh.close();
  }
}

export function formatOf(head: Buffer, name = ''): ModelFormat {
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) {
    // torch.save() and torch.jit.save() both write a zip: `<name>/data.pkl`; TorchScript adds `constants.pkl`/`code/`.
    const text = head.toString('latin1');
    if (/\/(code\/|constants\.pkl)/.test(text)) return 'torchscript';
    if (/\/data\.pkl|\/version/.test(text) || /\.(pt|pth)$/i.test(name)) return 'pytorch-zip';
    return 'unknown';
  }
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'pickle'; // legacy torch.save
  if (head.length >= 9 && head.readBigUInt64LE(0) < 100_000_000n && head[8] === 0x7b) return 'safetensors'; // u64 + '{'
  // ONNX ModelProto starts with field 1 (ir_version, varint: 0x08) or another small field tag.
  if (head.length >= 2 && [0x08, 0x12, 0x1a, 0x22, 0x3a, 0x42].includes(head[0])) return 'onnx';
  return 'unknown';
}

/** The export step, for messages. */
export const ONNX_EXPORT_HINT =
  'export it to ONNX first, in Python: torch.onnx.export(model.eval(), example_input, "model.onnx", ' +
  'input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}); ' +
  'examples/torchvision/export_and_archive.py does it for a torchvision model';

/** A message for a file that is a PyTorch or other non-ONNX format, or undefined when it may be ONNX. */
export function notOnnxMessage(format: ModelFormat, file: string): string | undefined {
  switch (format) {
    case 'torchscript':
      return `${file} is a TorchScript file (torch.jit.save); modelserver runs ONNX models: ${ONNX_EXPORT_HINT}`;
    case 'pytorch-zip':
    case 'pickle':
      return `${file} is a PyTorch file (torch.save); modelserver runs ONNX models: ${ONNX_EXPORT_HINT}`;
    case 'safetensors':
      return `${file} is a safetensors weights file; modelserver runs ONNX models: load the weights into the model in Python, then ${ONNX_EXPORT_HINT}`;
    default:
      return undefined;
  }
}
