import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestStore } from '../helpers/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Foreground {
  /** The `modelserver` command; on glibc Linux it relaunches itself and waits for the server (src/cli/malloc.ts). */
  child: ChildProcess;
  /** The server process, from the pid file. */
  serverPid: number;
  inference: string;
  management: string;
}

/** Starts `modelserver --foreground` in `cwd` and resolves with its addresses once it answers. */
async function startForeground(cwd: string, args: string[]): Promise<Foreground> {
  const pidFile = path.join(cwd, 'ms.pid');
  await fs.rm(pidFile, { force: true });
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'modelserver.js'), '--foreground', '--pid-file', pidFile, ...args], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    // A SIGKILLed server cannot remove its scratch folder: keep it inside the test's folder.
    env: { ...process.env, TMPDIR: cwd },
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  for (let i = 0; i < 600; i++) {
    const info = await fs.readFile(pidFile, 'utf8').then((t) => JSON.parse(t) as { pid: number; inference?: string; management?: string }, () => undefined);
    if (info?.inference && info.management) return { child, serverPid: info.pid, inference: info.inference, management: info.management };
    if (child.exitCode !== null) throw new Error(`the server exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`the server did not start: ${stderr}`);
}

/** SIGKILLs the server process itself, then waits for the command that started it to end. */
async function killed({ child, serverPid }: Foreground): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(serverPid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  await exited;
}

/** Describe output without what changes from one process to the next. */
async function state(management: string): Promise<unknown> {
  const list = (await (await fetch(`${management}/models`)).json()) as { models: { modelName: string }[] };
  const out: Record<string, unknown> = {};
  for (const m of list.models) {
    const all = (await (await fetch(`${management}/models/${m.modelName}/all`)).json()) as Array<Record<string, unknown>>;
    out[m.modelName] = all
      // loadedAtStartup is true for everything after a restart, as in TorchServe.
      .map(({ workers, jobQueueStatus, loadedAtStartup, ...rest }): Record<string, unknown> => ({ ...rest, workers: (workers as unknown[]).length }))
      .sort((a, b) => String(a.modelVersion).localeCompare(String(b.modelVersion)));
  }
  return out;
}

describe('snapshots: state survives SIGKILL', function () {
  let store: TestStore;
  let child: Foreground | undefined;
  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'versioned', version: '1.0', handler: 'version.js', file: 'versioned-1.mar' });
    await store.add({ name: 'versioned', version: '2.0', handler: 'version.js', file: 'versioned-2.mar' });
    await store.add({ name: 'echo', handler: 'echo.js', config: 'batchSize: 4\n' });
    await fs.writeFile(
      path.join(store.dir, '..', 'config.properties'),
      `inference_address=http://127.0.0.1:0\nmanagement_address=http://127.0.0.1:0\nmetrics_address=http://127.0.0.1:0\ngrpc_inference_port=0\ngrpc_management_port=0\nmodel_store=store\nload_models=echo.mar\ndefault_workers_per_model=1\n`,
    );
  });
  after(async () => {
    if (child) await killed(child);
    await store?.remove();
  });

  it('restores models, versions, the default version, worker counts and batch settings', async () => {
    const cwd = path.dirname(store.dir);
    const first = await startForeground(cwd, ['--ts-config', 'config.properties']);
    child = first;
    const m = (method: string, p: string) => fetch(first.management + p, { method });
    expect((await m('POST', '/models?url=versioned-1.mar&initial_workers=1&batch_size=3')).status).to.equal(200);
    expect((await m('POST', '/models?url=versioned-2.mar&initial_workers=1&max_batch_delay=7')).status).to.equal(200);
    expect((await m('PUT', '/models/versioned/2.0/set-default')).status).to.equal(200);
    expect((await m('PUT', '/models/versioned/2.0?min_worker=2&max_worker=3&synchronous=true')).status).to.equal(200);
    expect((await m('PUT', '/models/echo?min_worker=2&synchronous=true')).status).to.equal(200);
    const before = await state(first.management);
    await killed(first);

    const second = await startForeground(cwd, ['--ts-config', 'config.properties']);
    child = second;
    const after = await state(second.management);
    expect(after).to.deep.equal(before);
    const pred = (await (await fetch(`${second.inference}/predictions/versioned`, { method: 'POST', body: '{}' })).json()) as { version: string };
    expect(pred.version).to.equal('2.0');
    await killed(second);

    // --ncs ignores the snapshot: only load_models is served.
    const third = await startForeground(cwd, ['--ts-config', 'config.properties', '--ncs']);
    child = third;
    const names = ((await (await fetch(`${third.management}/models`)).json()) as { models: { modelName: string }[] }).models.map((x) => x.modelName);
    expect(names).to.deep.equal(['echo']);
  });
});
