/**
 * IEEE 754 half precision ↔ JavaScript numbers. onnxruntime-node takes and returns float16 tensors as
 * Uint16Array bit patterns, while JSON carries numbers.
 */

/** Rounds a non-negative number to an integer, ties to even (exact for the magnitudes used here). */
function roundEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f + (f % 2);
}

/**
 * The half-precision bits nearest to `value`, rounded once from the double (to nearest, ties to even);
 * magnitudes from 65520 up give ±Infinity, NaN gives the quiet NaN 0x7e00.
 */
export function toHalf(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const abs = Math.abs(value);
  if (abs >= 65520) return sign | 0x7c00;
  if (abs < 2 ** -14) return sign | roundEven(abs * 2 ** 24); // subnormal; 1024 is the smallest normal
  let e = Math.floor(Math.log2(abs));
  if (2 ** e > abs) e--;
  else if (2 ** (e + 1) <= abs) e++;
  let q = roundEven((abs / 2 ** e - 1) * 1024);
  if (q === 1024) {
    q = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | q;
}

/** The number a half-precision bit pattern stands for. */
export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
