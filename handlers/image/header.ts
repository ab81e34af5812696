/**
 * The size of a JPEG or PNG as sharp reports it after EXIF orientation (`metadata().autoOrient`), read from the
 * header in JavaScript. Asking sharp costs a round trip through libuv's thread pool, about 0.5 ms of latency per
 * image on a server that is otherwise idle (measured at concurrency 1 on the bench's 640×480 JPEGs). Anything
 * this reader is not sure about gives undefined, and the caller asks sharp: other formats, a second EXIF block, a
 * PNG with an eXIf chunk, a height defined later in the stream, broken or truncated headers. sharp still checks
 * the pixel limit on the image it decodes, whatever this returns.
 */

export interface Size {
  width: number;
  height: number;
}

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u32be = (b: Uint8Array, i: number) => ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);

export function headerSize(b: Uint8Array): Size | undefined {
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpegSize(b);
  if (b.length >= 33 && u32be(b, 0) === 0x89504e47 && u32be(b, 4) === 0x0d0a1a0a) return pngSize(b);
  return undefined;
}

/** SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames. */
const isFrame = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpegSize(b: Uint8Array): Size | undefined {
  let orientation = 1;
  let exifSeen = false;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // a fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0xd9 || marker === 0xda || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      return undefined; // a second start, the end or the scan before any frame header
    }
    const length = u16be(b, i + 2);
    const body = i + 4;
    const end = i + 2 + length;
    if (length < 2 || end > b.length) return undefined;
    if (isFrame(marker)) {
      if (length < 7) return undefined;
      const height = u16be(b, body + 1);
      const width = u16be(b, body + 3);
      if (width === 0 || height === 0) return undefined;
      return orientation >= 5 ? { width: height, height: width } : { width, height };
    }
    if (marker === 0xe1 && length >= 8 && u32be(b, body) === 0x45786966 && u16be(b, body + 4) === 0) {
      if (exifSeen) return undefined;
      exifSeen = true;
      const o = exifOrientation(b, body + 6, end);
      if (o === undefined) return undefined;
      orientation = o;
    }
    i = end;
  }
  return undefined;
}

/** IFD0's Orientation (1 when it has none) of the TIFF structure at b[start, end); undefined when malformed. */
function exifOrientation(b: Uint8Array, start: number, end: number): number | undefined {
  if (end - start < 8) return undefined;
  const little = b[start] === 0x49 && b[start + 1] === 0x49;
  if (!little && !(b[start] === 0x4d && b[start + 1] === 0x4d)) return undefined;
  const view = new DataView(b.buffer, b.byteOffset + start, end - start);
  if (view.getUint16(2, little) !== 42) return undefined;
  const ifd = view.getUint32(4, little);
  if (ifd < 8 || ifd + 2 > view.byteLength) return undefined;
  const count = view.getUint16(ifd, little);
  if (ifd + 2 + count * 12 > view.byteLength) return undefined;
  for (let k = 0; k < count; k++) {
    const entry = ifd + 2 + k * 12;
    if (view.getUint16(entry, little) !== 0x0112) continue;
    if (view.getUint16(entry + 2, little) !== 3 || view.getUint32(entry + 4, little) !== 1) return undefined;
    const o = view.getUint16(entry + 8, little);
    return o >= 1 && o <= 8 ? o : undefined;
  }
  return 1;
}

function pngSize(b: Uint8Array): Size | undefined {
  if (u32be(b, 8) !== 13 || u32be(b, 12) !== 0x49484452) return undefined; // IHDR first
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  if (width === 0 || height === 0) return undefined;
  // An orientation could come in an eXIf chunk, which must precede the image data.
  for (let i = 33; i + 8 <= b.length; ) {
    const type = u32be(b, i + 4);
    if (type === 0x49444154) return { width, height }; // IDAT
    if (type === 0x65584966) return undefined; // eXIf
    i += 12 + u32be(b, i);
  }
  return undefined;
}
