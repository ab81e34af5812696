/**
 * Messages a newcomer meets in the first hour (issue 15, point 6), each reproduced as the user did it: an image
 * sent with `curl --data-binary` (form-urlencoded), a handler name that is not a built-in, and TorchServe keys
 * for features this server does not serve.
 */
import { expect } from 'chai';
import { colorsClassifier, colorsLabels, mlp } from '../../scripts/lib/onnx-models.ts';
import { solidImage } from '../../scripts/lib/images.ts';
import { loadConfig } from '../../src/config/config.ts';
import { BUILTIN_HANDLERS } from '../../src/handler/builtins.ts';
import type { RunningServer } from '../../src/server.ts';
import { startTestServer, TestStore } from '../helpers/server.ts';

describe('first-hour messages say what arrived and what to do', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'colors', model: colorsClassifier(), handler: 'image_classifier', extra: { 'index_to_name.json': JSON.stringify(colorsLabels()) } });
    await store.add({ name: 'mlp', model: mlp(), handler: 'tensor' });
    server = await startTestServer(store, ['colors.mar']);
  });
  after(async () => {
    await server.stop();
    await store.remove();
  });

  it('curl --data-binary @x.jpg (form-urlencoded): a 400 naming the type that arrived and the three fixes', async () => {
    const jpeg = await solidImage(240, 0, 0, { format: 'jpeg' });
    const res = await fetch(`${server.inferenceUrl}/predictions/colors`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, // what curl --data-binary sends
      body: jpeg,
    });
    expect(res.status).to.equal(400);
    const { message } = (await res.json()) as { message: string };
    expect(message).to.contain('application/x-www-form-urlencoded').and.contain("-H 'Content-Type: image/jpeg'").and.contain('-T x.jpg').and.contain('-F data=@x.jpg');
    const right = await fetch(`${server.inferenceUrl}/predictions/colors`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg });
    expect(Object.keys((await right.json()) as object)[0]).to.equal('red');
  });

  it('a handler that is neither a built-in nor a file lists the built-in handlers', async () => {
    const res = await fetch(`${server.managementUrl}/models?url=mlp.mar&handler=image_segmenter_v0`, { method: 'POST' });
    expect(res.status).to.equal(400);
    const { message } = (await res.json()) as { message: string };
    expect(message).to.contain('image_segmenter_v0');
    for (const name of BUILTIN_HANDLERS) expect(message).to.contain(name);
  });

  it('workflow_store is accepted with a note that it is not served (gRPC keys are served, with no note)', () => {
    const notes: string[] = [];
    loadConfig({ cli: { grpc_inference_port: '7070', workflow_store: '/tmp' }, env: {}, info: (m) => notes.push(m) });
    expect(notes.join('\n')).to.not.contain('grpc_inference_port');
    expect(notes.join('\n')).to.contain('workflow_store').and.contain('serves no workflows');
  });
});
