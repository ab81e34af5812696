import { expect } from 'chai';
import { fromHalf, toHalf } from '../../src/dataplane/fp16.ts';

describe('v2 FP16: half-precision bits ↔ numbers', () => {
  it('round-trips every one of the 65536 bit patterns (NaNs to the quiet NaN)', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const v = fromHalf(bits);
      if (Number.isNaN(v)) expect(toHalf(v)).to.equal(0x7e00);
      else if (toHalf(v) !== bits) expect.fail(`0x${bits.toString(16)} → ${v} → 0x${toHalf(v).toString(16)}`);
    }
  });

  it('decodes known values', () => {
    expect([0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x8000, 0x7c00, 0xfc00].map(fromHalf)).to.deep.equal([
      1, -2, 65504, 2 ** -14, 2 ** -24, -0, Infinity, -Infinity,
    ]);
    expect(fromHalf(0x7e00)).to.be.NaN;
  });

  it('rounds to nearest, ties to even, once from the double (no double rounding through float32)', () => {
    expect(toHalf(1 + 2 ** -11)).to.equal(0x3c00); // tie → even
    expect(toHalf(1 + 3 * 2 ** -11)).to.equal(0x3c02); // tie → even
    expect(toHalf(1 + 2 ** -11 + 2 ** -30)).to.equal(0x3c01); // above the tie (float32 would lose the 2^-30)
    expect(toHalf(0.1)).to.equal(0x2e66);
    expect(toHalf(-0.1)).to.equal(0xae66);
  });

  it('handles subnormals, overflow, zeros and non-finite values', () => {
    expect(toHalf(2 ** -24)).to.equal(0x0001);
    expect(toHalf(2 ** -25)).to.equal(0x0000); // tie → even (0)
    expect(toHalf(2 ** -25 + 2 ** -40)).to.equal(0x0001);
    expect(toHalf(3 * 2 ** -25)).to.equal(0x0002); // tie → even
    expect(toHalf(2 ** -14 - 2 ** -26)).to.equal(0x0400); // rounds up into the smallest normal
    expect(toHalf(65519.99)).to.equal(0x7bff);
    expect(toHalf(65520)).to.equal(0x7c00);
    expect(toHalf(-1e10)).to.equal(0xfc00);
    expect(toHalf(-0)).to.equal(0x8000);
    expect(toHalf(0)).to.equal(0x0000);
    expect(toHalf(Infinity)).to.equal(0x7c00);
    expect(toHalf(NaN)).to.equal(0x7e00);
  });
});
