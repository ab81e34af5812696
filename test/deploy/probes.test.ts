import { expect } from 'chai';
import fs from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

/** What a Kubernetes httpGet probe counts as success. */
const probeOk = (status: number) => status >= 200 && status < 400;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

describe('the endpoints the Kubernetes probes ask, while a model loads and after', function () {
  let store: TestStore;
  let server: RunningServer | undefined;
  before(async () => {
    store = await TestStore.create();
  });
  after(async () => {
    await server?.stop();
    await store.remove();
  });

  it('startup (/ping) and readiness (/v2/health/ready) fail until the model has loaded; liveness (/v2/health/live) passes throughout', async () => {
    const gate = path.join(path.dirname(store.dir), 'gate');
    await store.add({ name: 'slow', handler: 'gated-init.js', config: `gate: ${JSON.stringify(gate)}\n` });
    const port = await freePort();
    const starting = startTestServer(store, ['slow.mar'], { inference_address: `http://127.0.0.1:${port}` });
    const url = `http://127.0.0.1:${port}`;
    let ping: Response | undefined;
    while (!ping) ping = await fetch(`${url}/ping`).catch(() => undefined);
    const during = {
      ping: ping.status,
      ready: (await fetch(`${url}/v2/health/ready`)).status,
      live: (await fetch(`${url}/v2/health/live`)).status,
    };
    expect(await ping.json()).to.deep.equal({ status: 'Unhealthy' });
    await fs.writeFile(gate, '');
    server = await starting;
    const afterLoad = {
      ping: (await fetch(`${url}/ping`)).status,
      ready: (await fetch(`${url}/v2/health/ready`)).status,
      live: (await fetch(`${url}/v2/health/live`)).status,
    };
    expect({ ping: probeOk(during.ping), ready: probeOk(during.ready), live: probeOk(during.live) }).to.deep.equal({ ping: false, ready: false, live: true });
    expect(afterLoad).to.deep.equal({ ping: 200, ready: 200, live: 200 });
  });
});
