/** BYTES tensors on the wire (Open Inference Protocol): each element as a 4-byte little-endian length + bytes. */

/** BYTES elements → 4-byte little-endian length + bytes each. */
export function packBytes(elements: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(elements.reduce((n, e) => n + 4 + e.byteLength, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of elements) {
    view.setUint32(at, e.byteLength, true);
    out.set(e, at + 4);
    at += 4 + e.byteLength;
  }
  return out;
}
