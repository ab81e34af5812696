/**
 * A PyTorch user's first `model-archiver` (issue 15, point 2): a `.pt`, TorchServe's Python-only options and an
 * unknown handler are each answered with the way forward, and a PyTorch file that reaches the server anyway is
 * refused with the export step instead of `Protobuf parsing failed`.
 */
import { expect } from 'chai';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { main } from '../../src/cli/model-archiver.ts';
import { BUILTIN_HANDLERS } from '../../src/handler/builtins.ts';
import { mlp } from '../../scripts/lib/onnx-models.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

/** The layout torch.save() (and, with code/ and constants.pkl, torch.jit.save()) writes: a zip under `archive/`. */
function torchZip(script: boolean): Buffer {
  const zip = new AdmZip();
  zip.addFile('archive/data.pkl', Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]));
  if (script) {
    zip.addFile('archive/code/__torch__.py', Buffer.from('class Net(Module):\n  pass\n'));
    zip.addFile('archive/constants.pkl', Buffer.from([0x80, 0x02, 0x29, 0x2e]));
  }
  zip.addFile('archive/version', Buffer.from('3\n'));
  zip.addFile('archive/data/0', Buffer.alloc(64));
  return zip.toBuffer();
}

describe('model-archiver with a TorchServe user\'s habits', function () {
  let dir: string;
  const f = (name: string) => path.join(dir, name);
  const archive = async (...argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await main(['--model-name', 'net', '-v', '1.0', '--export-path', dir, ...argv], { out: (s) => (stdout += s), err: (s) => (stderr += s) });
    return { code, stdout, stderr };
  };

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ms-torchserve-'));
    await fs.writeFile(f('model.pt'), torchZip(false));
    await fs.writeFile(f('scripted.pt'), torchZip(true));
    await fs.writeFile(f('legacy.pth'), Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46]));
    await fs.writeFile(f('model.onnx'), mlp());
    await fs.writeFile(f('model.py'), 'class Net: pass\n');
    await fs.writeFile(f('handler.py'), 'def handle(data, context): return data\n');
    await fs.writeFile(f('requirements.txt'), 'torch\n');
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('a torch.save file: refused with the torch.onnx.export call and the example script', async () => {
    const res = await archive('--serialized-file', f('model.pt'), '--handler', 'tensor');
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('is a PyTorch file (torch.save)').and.contain('torch.onnx.export(').and.contain('examples/torchvision/export_and_archive.py');
    await fs.access(f('net.mar')).then(() => expect.fail('an archive was written'), () => {});
    const legacy = await archive('--serialized-file', f('legacy.pth'), '--handler', 'tensor');
    expect(legacy.stderr).to.contain('is a PyTorch file');
  });

  it('a TorchScript file is named as one', async () => {
    const res = await archive('--serialized-file', f('scripted.pt'), '--handler', 'tensor');
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('is a TorchScript file (torch.jit.save)').and.contain('torch.onnx.export(');
  });

  it('--model-file, --requirements-file, --runtime python and a .py handler say what to do instead', async () => {
    const modelFile = await archive('--serialized-file', f('model.onnx'), '--handler', 'tensor', '--model-file', f('model.py'));
    expect(modelFile.code).to.equal(1);
    expect(modelFile.stderr).to.contain('Drop --model-file').and.not.contain('unknown option');
    const reqs = await archive('--serialized-file', f('model.onnx'), '--handler', 'tensor', '--requirements-file', f('requirements.txt'));
    expect(reqs.stderr).to.contain('nothing to pip install');
    const runtime = await archive('--serialized-file', f('model.onnx'), '--handler', 'tensor', '--runtime', 'python');
    expect(runtime.stderr).to.contain('the only runtime is node');
    const py = await archive('--serialized-file', f('model.onnx'), '--handler', f('handler.py'));
    expect(py.code).to.equal(1);
    expect(py.stderr).to.contain('handlers are JavaScript ES modules');
    const ok = await archive('--serialized-file', f('model.onnx'), '--handler', 'tensor', '--runtime', 'node', '-f');
    expect(ok.code).to.equal(0);
  });

  it('an unknown handler name lists the built-in handlers', async () => {
    const res = await archive('--serialized-file', f('model.onnx'), '--handler', 'image_segmenter_typo', '-f');
    expect(res.code).to.equal(1);
    for (const name of BUILTIN_HANDLERS) expect(res.stderr).to.contain(name);
  });

  it('a PyTorch file packed anyway: the registration says what it is and how to export it', async () => {
    const store = await TestStore.create();
    try {
      await store.add({ name: 'net', model: torchZip(false), handler: 'tensor' });
      const server = await startTestServer(store, [], { strict_readiness: 'false' });
      try {
        const res = await fetch(`${server.managementUrl}/models?url=net.mar`, { method: 'POST' });
        const body = (await res.json()) as { message: string };
        expect(res.status).to.be.within(400, 599);
        expect(body.message).to.contain('is a PyTorch file').and.contain('torch.onnx.export(');
        expect(body.message).not.to.contain('Protobuf');
      } finally {
        await server.stop();
      }
    } finally {
      await store.remove();
    }
  });
});
