/**
 * examples/torchvision/export_and_archive.py (issue 15, point 2). PyTorch cannot be installed on the machines
 * this suite runs on (no network; the local pip index has no torch), so the export half is checked for what can
 * be checked without it (the script compiles; without torch it says what to install), and the archiving half
 * runs for real on an ONNX file and the archive it writes is served.
 */
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { colorsClassifier, colorsLabels } from '../../scripts/lib/onnx-models.ts';
import { solidImage } from '../../scripts/lib/images.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = path.join(ROOT, 'examples', 'torchvision', 'export_and_archive.py');

function hasPython(): boolean {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('examples/torchvision/export_and_archive.py', function () {
  let store: TestStore;
  let server: RunningServer | undefined;
  before(async function () {
    if (!hasPython()) this.skip(); // the example is a Python script
    store = await TestStore.create();
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('compiles, and without PyTorch says what to install', async () => {
    await run('python3', ['-c', `import ast, sys; ast.parse(open(sys.argv[1]).read())`, SCRIPT]);
    const torch = await run('python3', ['-c', 'import torch']).then(() => true, () => false);
    if (torch) return; // a machine with torch: the export itself is what runs (not here)
    const res = await run('python3', [SCRIPT, '--model', 'resnet18', '--export-path', store.dir], { cwd: ROOT }).catch((e: { code: number; stderr: string }) => e);
    expect((res as { code: number }).code).to.equal(1);
    expect(res.stderr).to.contain('the export needs PyTorch').and.contain('pip install torch torchvision onnx');
  });

  it('archives an ONNX file with the image_classifier handler and its labels; the archive serves', async () => {
    const src = path.join(path.dirname(store.dir), 'src');
    await fs.mkdir(src, { recursive: true });
    await fs.writeFile(path.join(src, 'colors.onnx'), colorsClassifier());
    await fs.writeFile(path.join(src, 'index_to_name.json'), JSON.stringify(colorsLabels()));
    const { stdout } = await run(
      'python3',
      [SCRIPT, '--onnx', path.join(src, 'colors.onnx'), '--labels', path.join(src, 'index_to_name.json'), '--name', 'colors', '--export-path', store.dir],
      { cwd: ROOT },
    );
    expect(stdout.trim()).to.equal(path.join(store.dir, 'colors.mar'));
    server = await startTestServer(store, ['colors.mar']);
    const res = await fetch(`${server.inferenceUrl}/predictions/colors`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: await solidImage(230, 10, 10) });
    const top = (await res.json()) as Record<string, number>;
    expect(Object.keys(top)[0]).to.equal('red');
  });
});
