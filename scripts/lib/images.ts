/** Synthetic images for tests and demos. */
import sharp from 'sharp';

export interface SolidImageOptions {
  width?: number;
  height?: number;
  format?: 'png' | 'jpeg';
}

/** A single-colour RGB image, encoded as PNG (default) or JPEG. */
export async function solidImage(
  r: number,
  g: number,
  b: number,
  { width = 64, height = 48, format = 'png' }: SolidImageOptions = {},
): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background: { r, g, b } } });
  return format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer() : img.png().toBuffer();
}
