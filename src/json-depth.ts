/**
 * Nesting limit for JSON request bodies. V8's JSON.parse copes with deep nesting, but what comes after it does not:
 * structured cloning to a worker, a handler walking the value, or writing it back as JSON recurse once per level,
 * and 5,000 nested arrays (10 KB) overflowed a worker's stack. Bodies are scanned once, in linear time and with no
 * allocation, before they are parsed; anything nested deeper than the limit is a 400 that says so.
 * Imports only errors.ts, so every room that reads JSON from a client (the APIs, the data plane) may use it.
 */
import { ServeError } from './errors.ts';

/**
 * Deepest nesting of arrays and objects accepted in a request body. A tensor of rank 8 inside a v1 or v2 request
 * is about 12 levels deep; 64 leaves room for any real payload and is far below what recursion can survive.
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** The deepest nesting of `[`/`{` outside strings, stopping as soon as it passes `limit`. */
export function jsonDepth(bytes: Uint8Array, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return deepest;
}

/** Throws a 400 naming `what` when the JSON text nests deeper than MAX_JSON_DEPTH. */
export function checkJsonDepth(bytes: Uint8Array, what: string, limit = MAX_JSON_DEPTH): void {
  if (jsonDepth(bytes, limit) > limit) {
    throw new ServeError('BadRequest', `${what} nests arrays and objects more than ${limit} levels deep`);
  }
}

/** JSON.parse after the depth check; invalid JSON is a 400 naming `what`. */
export function parseJsonBytes(bytes: Uint8Array, what: string): unknown {
  checkJsonDepth(bytes, what);
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new ServeError('BadRequest', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}
