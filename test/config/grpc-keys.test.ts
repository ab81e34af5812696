/** TorchServe's gRPC keys are read: addresses, ports, enable_grpc_ssl, with TorchServe's defaults. */
import { expect } from 'chai';
import { loadConfig } from '../../src/config/config.ts';
import { ServeError } from '../../src/errors.ts';

const load = (cli: Record<string, string>, infos: string[] = []) => loadConfig({ cli, env: {}, warn: () => {}, info: (m) => infos.push(m) });

describe('config: gRPC keys', () => {
  it('defaults to 127.0.0.1:7070 and 127.0.0.1:7071 without TLS, as TorchServe', () => {
    const c = load({});
    expect(c.grpcInferenceAddress).to.deep.equal({ host: '127.0.0.1', port: 7070 });
    expect(c.grpcManagementAddress).to.deep.equal({ host: '127.0.0.1', port: 7071 });
    expect(c.enableGrpcSsl).to.equal(false);
  });

  it('reads the addresses and ports, and no longer calls them unused', () => {
    const infos: string[] = [];
    const c = load({ grpc_inference_address: '0.0.0.0', grpc_inference_port: '9001', grpc_management_address: '[::1]', grpc_management_port: '0' }, infos);
    expect(c.grpcInferenceAddress).to.deep.equal({ host: '0.0.0.0', port: 9001 });
    expect(c.grpcManagementAddress).to.deep.equal({ host: '::1', port: 0 });
    expect(infos.filter((m) => m.includes('grpc'))).to.deep.equal([]);
  });

  it('refuses a bad port or host, and enable_grpc_ssl without a key and certificate', () => {
    for (const [cli, part] of [
      [{ grpc_inference_port: '70700' }, 'grpc_inference_port'],
      [{ grpc_management_port: 'x' }, 'expected a port from 0 to 65535'],
      [{ grpc_inference_address: 'http://h:1' }, 'expected a host name or IP address'],
      [{ enable_grpc_ssl: 'true' }, 'enable_grpc_ssl=true needs private_key_file and certificate_file'],
    ] as const) {
      let err: unknown;
      try {
        load(cli);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(cli)).to.be.instanceOf(ServeError);
      expect((err as Error).message).to.contain(part);
    }
  });
});
