import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import AdmZip from 'adm-zip';
import { expect } from 'chai';
import { main } from '../../src/cli/model-archiver.ts';
import type { Manifest } from '../../src/handler/contract.ts';

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODEL_BYTES = Buffer.from('fake onnx '.repeat(100));

let tmp: string;
let out: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { out: (s) => (stdout += s), err: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

function p(rel: string): string {
  return path.join(tmp, rel);
}

/** The required options plus the model, written to the export folder. */
function basic(...more: string[]): string[] {
  return ['--model-name', 'mnist', '-v', '1.0', '--serialized-file', p('model.onnx'), '--handler', 'tensor', '--export-path', out, ...more];
}

function manifestOf(mar: string): Manifest {
  return JSON.parse(new AdmZip(mar).readAsText('MAR-INF/MANIFEST.json')) as Manifest;
}

describe('cli/model-archiver', () => {
  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'archiver-cli-'));
    out = p('out');
    await fs.writeFile(p('model.onnx'), MODEL_BYTES);
    await fs.writeFile(p('handler.js'), 'export class Echo { handle(r) { return r.map((x) => x.data); } }\n');
    await fs.writeFile(p('model-config.yaml'), 'batchSize: 2\n');
    await fs.mkdir(p('assets/nested'), { recursive: true });
    await fs.writeFile(p('assets/nested/vocab.txt'), 'a b c');
    await fs.writeFile(p('index_to_name.json'), '{"0":"zero"}');
  });
  afterEach(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('packs with the required options and prints the written path', async () => {
    const r = await run(...basic());
    expect(r).to.deep.include({ code: 0, stderr: '' });
    const mar = path.join(out, 'mnist.mar');
    expect(r.stdout.trim()).to.equal(mar);
    const m = manifestOf(mar);
    expect(m.model).to.deep.equal({ modelName: 'mnist', modelVersion: '1.0', handler: 'tensor', serializedFile: 'model.onnx' });
    expect(m.runtime).to.equal('node');
  });

  it('takes every option: --version, handler file with export, extra files, config file, zip-store', async () => {
    const r = await run(
      '--model-name', 'full', '--version', '2.5', '--serialized-file', p('model.onnx'),
      '--handler', `${p('handler.js')}:Echo`,
      '--extra-files', `${p('index_to_name.json')}, ${p('assets')}`,
      '--export-path', out, '--archive-format', 'zip-store', '-c', p('model-config.yaml'),
    );
    expect(r.code, r.stderr).to.equal(0);
    const zip = new AdmZip(path.join(out, 'full.mar'));
    expect(zip.getEntries().map((e) => e.entryName)).to.have.members([
      'MAR-INF/MANIFEST.json', 'model.onnx', 'handler.js', 'index_to_name.json', 'nested/vocab.txt', 'model-config.yaml',
    ]);
    expect(zip.getEntries().every((e) => e.header.method === 0)).to.equal(true);
    expect(manifestOf(path.join(out, 'full.mar')).model).to.deep.equal({
      modelName: 'full', modelVersion: '2.5', handler: 'handler.js:Echo', serializedFile: 'model.onnx', configFile: 'model-config.yaml',
    });
  });

  it('accepts --config-file and --archive-format default / no-archive', async () => {
    expect((await run(...basic('--config-file', p('model-config.yaml'), '--archive-format', 'default'))).code).to.equal(0);
    const zip = new AdmZip(path.join(out, 'mnist.mar'));
    expect(zip.getEntry('model.onnx')!.header.method).to.equal(8);
    expect(manifestOf(path.join(out, 'mnist.mar')).model.configFile).to.equal('model-config.yaml');

    const r = await run(...basic('--archive-format', 'no-archive'));
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal(path.join(out, 'mnist'));
    expect((await fs.readdir(path.join(out, 'mnist'))).sort()).to.deep.equal(['MAR-INF', 'model.onnx']);
  });

  it('writes to the current directory without --export-path', async () => {
    const cwd = process.cwd();
    process.chdir(tmp);
    try {
      const r = await run('--model-name', 'here', '-v', '1', '--serialized-file', 'model.onnx', '--handler', 'handler.js');
      expect(r.code, r.stderr).to.equal(0);
    } finally {
      process.chdir(cwd);
    }
    expect(manifestOf(p('here.mar')).model.handler).to.equal('handler.js');
  });

  it('refuses an existing archive without -f, then overwrites it with -f and --force', async () => {
    expect((await run(...basic())).code).to.equal(0);
    const again = await run(...basic());
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/^error: .*mnist\.mar already exists; use -f\/--force/);
    expect((await run(...basic('-f'))).code).to.equal(0);
    const r = await run('--model-name', 'mnist', '-v', '9', '--handler', 'ocr', '--export-path', out, '--force');
    expect(r.code, r.stderr).to.equal(0);
    expect(manifestOf(path.join(out, 'mnist.mar')).model.modelVersion).to.equal('9');
  });

  it('reports a missing serialized, extra or config file', async () => {
    const a = await run(...basic('--extra-files', p('missing.json')));
    expect(a.code).to.equal(1);
    expect(a.stderr).to.include('error: --extra-files: file not found').and.include('missing.json');
    const b = await run('--model-name', 'x', '-v', '1', '--serialized-file', p('nope.onnx'), '--handler', 'tensor', '--export-path', out);
    expect(b.code).to.equal(1);
    expect(b.stderr).to.include('--serialized-file').and.include('nope.onnx');
    const c = await run(...basic('-c', p('gone.yaml')));
    expect(c.code).to.equal(1);
    expect(c.stderr).to.include('--config-file').and.include('gone.yaml');
  });

  it('reports a bad model name', async () => {
    const r = await run('--model-name', 'bad/name', '-v', '1', '--handler', 'tensor', '--export-path', out);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('error: --model-name').and.include('bad/name');
  });

  it('reports a handler that is neither built in nor in the archive', async () => {
    const r = await run(...basic().slice(0, 6), '--handler', 'my_handler.js', '--export-path', out);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('error: --handler "my_handler.js"');
  });

  it('reports missing required options and a bad --archive-format', async () => {
    const a = await run('-v', '1', '--handler', 'tensor');
    expect(a.code).to.equal(1);
    expect(a.stderr).to.include('--model-name');
    const b = await run(...basic('--archive-format', 'tgz'));
    expect(b.code).to.equal(1);
    expect(b.stderr).to.include('tgz');
    await fs.access(out).then(
      () => expect.fail('nothing should be written'),
      () => undefined,
    );
  });

  it('prints help with every option and exits 0', async () => {
    const r = await run('--help');
    expect(r.code).to.equal(0);
    for (const opt of ['--model-name', '--version', '--serialized-file', '--handler', '--extra-files', '--export-path',
      '--archive-format', '--config-file', '--force']) {
      expect(r.stdout).to.include(opt);
    }
  });

  it('exits 1 with the message on stderr when run as a process', async () => {
    const args = ['--model-name', 'x', '-v', '1', '--serialized-file', p('absent.onnx'), '--handler', 'tensor', '--export-path', out];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/model-archiver.ts', ...args], { cwd: PROJECT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).to.equal(1);
    expect(stdout).to.equal('');
    expect(stderr).to.match(/^error: --serialized-file: file not found: .*absent\.onnx\n$/);
  });
});
