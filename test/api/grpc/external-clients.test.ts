/**
 * The clients users have: grpcurl (by reflection, no .proto files) and Triton's Python `tritonclient.grpc`. Each
 * check runs where the client is installed and is skipped, saying so, where it is not (neither is packaged for
 * the machine this suite was written on; the grpc-js clients of the other tests cover the same RPCs).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { RunningServer } from '../../../src/server.ts';
import { startTestServer, TestStore } from '../../helpers/server.ts';
import { identity } from '../../helpers/v2-models.ts';

const run = promisify(execFile);
const has = (cmd: string, args: string[]) => run(cmd, args, { timeout: 20_000 }).then(() => true, () => false);

const TRITON_SCRIPT = `
import sys
import numpy as np
import tritonclient.grpc as grpcclient
c = grpcclient.InferenceServerClient(sys.argv[1])
assert c.is_server_live() and c.is_model_ready("id")
x = grpcclient.InferInput("x", [2, 2], "FP32")
x.set_data_from_numpy(np.array([[1, 2], [3, 4]], dtype=np.float32))
r = c.infer("id", [x], request_id="py-1")
print(r.get_response().id, r.as_numpy("y").tolist())
`;

describe('gRPC with grpcurl and tritonclient.grpc (where installed)', function () {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await TestStore.create();
    await store.add({ name: 'id', model: identity('FP32'), handler: 'echo.js' });
    server = await startTestServer(store, ['id.mar']);
  });
  after(async () => {
    await server?.stop();
    await store?.remove();
  });

  it('grpcurl (skipped when it is not installed) lists the services by reflection and calls ModelMetadata', async function () {
    if (!(await has('grpcurl', ['-version']))) this.skip(); // grpcurl is not installed here
    const list = await run('grpcurl', ['-plaintext', server.grpcInferenceTarget, 'list']);
    expect(list.stdout).to.contain('inference.GRPCInferenceService').and.contain('org.pytorch.serve.grpc.inference.InferenceAPIsService');
    const meta = await run('grpcurl', ['-plaintext', '-d', '{"name":"id"}', server.grpcInferenceTarget, 'inference.GRPCInferenceService/ModelMetadata']);
    expect(JSON.parse(meta.stdout).inputs[0]).to.deep.include({ name: 'x', datatype: 'FP32' });
  });

  it('tritonclient.grpc (skipped when the Python package is not installed) infers unchanged', async function () {
    if (!(await has('python3', ['-c', 'import tritonclient.grpc, numpy']))) this.skip(); // tritonclient[grpc] is not installed here
    const out = await run('python3', ['-c', TRITON_SCRIPT, server.grpcInferenceTarget]);
    expect(out.stdout.trim()).to.equal('py-1 [[1.0, 2.0], [3.0, 4.0]]');
  });
});
