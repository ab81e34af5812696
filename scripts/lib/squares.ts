/** Test and demo images of coloured rectangles on a grey background, at known positions. */
import sharp from 'sharp';

export interface Square {
  x: number;
  y: number;
  width: number;
  height: number;
  rgb: [number, number, number];
}

/** A `width`×`height` grey image with the given rectangles drawn on it, as PNG (default) or JPEG. */
export async function squaresImage(
  width: number,
  height: number,
  squares: Square[],
  format: 'png' | 'jpeg' = 'png',
): Promise<Buffer> {
  const composites = await Promise.all(
    squares.map(async (s) => ({
      input: await sharp({ create: { width: s.width, height: s.height, channels: 3, background: { r: s.rgb[0], g: s.rgb[1], b: s.rgb[2] } } })
        .png()
        .toBuffer(),
      left: s.x,
      top: s.y,
    })),
  );
  const img = sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).composite(composites);
  return format === 'jpeg' ? img.jpeg({ quality: 92 }).toBuffer() : img.png().toBuffer();
}
