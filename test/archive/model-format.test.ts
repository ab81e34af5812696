/** Telling a serialized model's format from its first bytes (issue 15, point 2). */
import { expect } from 'chai';
import AdmZip from 'adm-zip';
import { formatOf, notOnnxMessage } from '../../src/archive/model-format.ts';
import { colorsClassifier, mlp, resnet18Shaped } from '../../scripts/lib/onnx-models.ts';

describe('archive/model-format', function () {
  it('real ONNX models are onnx, and get no message', () => {
    for (const model of [mlp(), colorsClassifier()]) {
      expect(formatOf(Buffer.from(model.subarray(0, 4096)))).to.equal('onnx');
      expect(notOnnxMessage('onnx', 'model.onnx')).to.equal(undefined);
    }
  });

  it('torch.save and torch.jit.save zips, legacy pickles and safetensors are told apart', () => {
    const zip = (names: string[]) => {
      const z = new AdmZip();
      for (const n of names) z.addFile(n, Buffer.from('x'));
      return z.toBuffer();
    };
    expect(formatOf(zip(['archive/data.pkl', 'archive/version']))).to.equal('pytorch-zip');
    expect(formatOf(zip(['model/data.pkl', 'model/code/__torch__.py', 'model/constants.pkl']))).to.equal('torchscript');
    expect(formatOf(zip(['readme.txt']))).to.equal('unknown'); // some other zip: left to onnxruntime
    expect(formatOf(Buffer.from([0x80, 0x02, 0x8a, 0x0a]))).to.equal('pickle');
    const header = Buffer.from('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    expect(formatOf(Buffer.concat([len, header]))).to.equal('safetensors');
    expect(formatOf(Buffer.from('{"not": "a model"}'))).to.equal('unknown');
  });

  it('the message names the format and the export call', () => {
    expect(notOnnxMessage('torchscript', 'm.pt')).to.contain('TorchScript').and.contain('torch.onnx.export(');
    expect(notOnnxMessage('safetensors', 'w.safetensors')).to.contain('safetensors').and.contain('torch.onnx.export(');
  });

  it('a large ONNX model (the ResNet-18-shaped CNN) is onnx from its first 4 KiB', () => {
    expect(formatOf(Buffer.from(resnet18Shaped().subarray(0, 4096)))).to.equal('onnx');
  });
});
