import { expect } from 'chai';
import { encodeJson, flatten, jsonDataText, packBytes, unpackBytes } from '../../src/dataplane/codec.ts';
import { datatypeInfo } from '../../src/dataplane/datatypes.ts';

const dt = (name: string) => datatypeInfo(name)!;

describe('v2 tensor data codec', () => {
  it('flattens flat data, and nested data only when it nests exactly as the shape', () => {
    expect(flatten([1, 2, 3, 4, 5, 6], [2, 3], 'x')).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(flatten([[1, 2, 3], [4, 5, 6]], [2, 3], 'x')).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(flatten([[[1], [2]]], [1, 2, 1], 'x')).to.deep.equal([1, 2]);
    expect(flatten([], [0, 3], 'x')).to.deep.equal([]);
    expect(() => flatten([[1, 2], [3]], [2, 2], 'x')).to.throw(/dimension 1 has 1 entries, expected 2/);
    expect(() => flatten([[[1, 2]], [[3, 4]]], [2, 2], 'x')).to.throw(/dimension 1 has 1 entries, expected 2/);
    expect(() => flatten([[1, [2]]], [1, 2], 'x')).to.throw(/nested deeper than shape \[1,2\]/);
    expect(() => flatten('abc', [3], 'x')).to.throw(/data must be an array/);
  });

  it('encodes JSON elements little-endian, FP16 as half bits, BYTES length-prefixed', () => {
    expect([...encodeJson([1, -1], dt('INT16'), 'x')]).to.deep.equal([1, 0, 0xff, 0xff]);
    expect([...encodeJson([1, 'NaN'], dt('FP16'), 'x')]).to.deep.equal([0x00, 0x3c, 0x00, 0x7e]);
    expect([...encodeJson([true, false], dt('BOOL'), 'x')]).to.deep.equal([1, 0]);
    expect([...encodeJson(['ab', ''], dt('BYTES'), 'x')]).to.deep.equal([2, 0, 0, 0, 97, 98, 0, 0, 0, 0]);
    expect([...encodeJson(['-1'], dt('INT64'), 'x')]).to.deep.equal([255, 255, 255, 255, 255, 255, 255, 255]);
    expect(() => encodeJson([1], dt('BOOL'), 'input "x"')).to.throw('input "x": element 0 is 1, expected true or false for BOOL');
    expect(() => encodeJson([-1], dt('UINT64'), 'x')).to.throw(/out of range for UINT64/);
    expect(() => encodeJson([5], dt('BYTES'), 'x')).to.throw(/element 0 is 5, expected a string for BYTES/);
  });

  it('writes JSON data exactly: 64-bit integers digit for digit, non-finite floats as strings', () => {
    const i64 = encodeJson(['-9223372036854775808', 7], dt('INT64'), 'x');
    expect(jsonDataText(dt('INT64'), i64)).to.equal('[-9223372036854775808,7]');
    const f64 = encodeJson([0.1, 'Infinity', 'NaN'], dt('FP64'), 'x');
    expect(jsonDataText(dt('FP64'), f64)).to.equal('[0.1,"Infinity","NaN"]');
    expect(jsonDataText(dt('BYTES'), packBytes([Buffer.from('a"b')]))).to.equal('["a\\"b"]');
    expect(jsonDataText(dt('BOOL'), new Uint8Array([1, 0]))).to.equal('[true,false]');
  });

  it('unpacks length-prefixed BYTES and refuses broken framing', () => {
    const packed = packBytes([Buffer.from('xy'), Buffer.alloc(0), Buffer.from([0xff])]);
    expect(unpackBytes(packed, 'x').map((e) => [...e])).to.deep.equal([[120, 121], [], [255]]);
    expect(() => unpackBytes(packed.subarray(0, 2), 'x')).to.throw(/ends inside the 4-byte length of element 0/);
    expect(() => unpackBytes(packed.subarray(0, 5), 'x')).to.throw(/element 0 declares 2 bytes but only 1 remain/);
  });
});
