/**
 * "Every npm command prints Unknown project config onnxruntime-node-install" (issue 15, point 6): the CUDA download
 * is skipped through package.json's allowScripts, which npm 11 reads without a warning, and every dependency with
 * an install script has been reviewed there.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('npm in this repository', function () {
  it('prints no warning about project config, and onnxruntime-node\'s install script is denied', async () => {
    const { stderr } = await run('npm', ['config', 'get', 'registry'], { cwd: ROOT });
    expect(stderr).to.not.contain('Unknown project config');
    if (existsSync(path.join(ROOT, '.npmrc'))) expect(readFileSync(path.join(ROOT, '.npmrc'), 'utf8')).to.not.match(/^\s*onnxruntime-node-install/m);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    expect(pkg.allowScripts?.['onnxruntime-node']).to.equal(false);
  });

  it('leaves no dependency\'s install script unreviewed (npm install-scripts ls)', async function () {
    const { stdout: version } = await run('npm', ['--version']);
    if (Number(version.split('.')[0]) < 11) this.skip(); // allowScripts and install-scripts came with npm 11
    const { stdout, stderr } = await run('npm', ['install-scripts', 'ls'], { cwd: ROOT });
    expect(`${stdout}${stderr}`).to.contain('No packages with unreviewed install scripts');
  });

  it('installed no CUDA libraries (the download was skipped) and onnxruntime loads', async () => {
    const bin = path.join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
    if (existsSync(bin)) expect(existsSync(path.join(bin, 'libonnxruntime_providers_cuda.so'))).to.equal(false);
    const { stdout } = await run(process.execPath, ['-e', 'require("onnxruntime-node"); console.log("ok")'], { cwd: ROOT });
    expect(stdout.trim()).to.equal('ok');
  });
});
