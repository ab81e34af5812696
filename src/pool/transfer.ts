/** Byte payloads cross the thread boundary as transferred ArrayBuffers, not copies. */

/**
 * Returns a view whose ArrayBuffer can be transferred, adding that buffer to `transfer`. A view that owns its
 * whole buffer goes as it is; a slice of a shared or pooled buffer (small Buffers) is copied once.
 */
export function transferable(view: Uint8Array, transfer: ArrayBuffer[]): Uint8Array {
  const buf = view.buffer;
  const whole = view.byteOffset === 0 && view.byteLength === buf.byteLength;
  if (whole && buf instanceof ArrayBuffer && !transfer.includes(buf)) {
    transfer.push(buf);
    return view;
  }
  const copy = new Uint8Array(view.byteLength);
  copy.set(view);
  transfer.push(copy.buffer);
  return copy;
}
