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

/**
 * Copies request bytes into shared memory once: the worker reads them in place (nothing is copied across the
 * thread boundary) and, unlike a transferred buffer, they are still there if the batch must be sent to another
 * worker because the first one died.
 */
export function shared(view: Uint8Array): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(view.byteLength));
  out.set(view);
  return out;
}
