/**
 * proto/ stays wire-identical to the upstream files it names: every message's fields (name, number, type,
 * label), every enum and every service's methods, compared with protobufjs against proto/upstream-wire.json
 * (made from the upstream files with `tsx scripts/proto/check-wire.ts --upstream DIR`).
 */
import fs from 'node:fs';
import { expect } from 'chai';
import { differences, ourShape, STORED } from '../../../scripts/proto/check-wire.ts';
import type { WireShape } from '../../../scripts/proto/wire.ts';

describe('proto/: wire-identical to Triton, TorchServe and grpc.health.v1', () => {
  const stored = JSON.parse(fs.readFileSync(STORED, 'utf8')) as WireShape;
  const ours = ourShape();

  it('has every upstream message, enum and service, field for field', () => {
    expect(differences(ours, stored)).to.deep.equal([]);
    expect(Object.keys(stored.services).sort()).to.deep.equal([
      'grpc.health.v1.Health',
      'inference.GRPCInferenceService',
      'org.pytorch.serve.grpc.inference.InferenceAPIsService',
      'org.pytorch.serve.grpc.management.ManagementAPIsService',
    ]);
    expect(stored.messages['inference.ModelInferRequest']).to.include('7 raw_input_contents: repeated bytes');
  });

  it('notices a changed field number, type or method', () => {
    const changed = structuredClone(stored);
    changed.messages['inference.ModelInferRequest'] = changed.messages['inference.ModelInferRequest'].map((l) => l.replace('7 raw_input_contents', '8 raw_input_contents'));
    changed.services['inference.GRPCInferenceService'].pop();
    expect(differences(ours, changed)).to.have.length(3);
  });
});
