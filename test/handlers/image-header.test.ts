import { expect } from 'chai';
import sharp from 'sharp';
import { headerSize } from '../../handlers/image/header.ts';

/** What sharp says the size is after EXIF orientation: the reader must agree whenever it answers. */
async function sharpSize(bytes: Buffer) {
  const m = await sharp(bytes).metadata();
  return { width: m.autoOrient?.width ?? m.width, height: m.autoOrient?.height ?? m.height };
}

const base = () => sharp({ create: { width: 37, height: 21, channels: 3, background: { r: 200, g: 40, b: 90 } } });

describe('image_classifier: image size from the header', () => {
  it('agrees with sharp on JPEGs: baseline, progressive, grey, CMYK, with an ICC profile, every EXIF orientation', async () => {
    const images: Array<[string, Buffer]> = [
      ['baseline', await base().jpeg().toBuffer()],
      ['progressive', await base().jpeg({ progressive: true }).toBuffer()],
      ['grey', await base().greyscale().jpeg().toBuffer()],
      ['cmyk', await base().toColourspace('cmyk').jpeg().toBuffer()],
      ['icc', await base().withIccProfile('p3').jpeg().toBuffer()],
    ];
    for (let o = 1; o <= 8; o++) images.push([`orientation ${o}`, await base().jpeg().withMetadata({ orientation: o }).toBuffer()]);
    for (const [name, bytes] of images) {
      const size = headerSize(bytes);
      expect(size, name).to.not.equal(undefined); // these are the common cases it exists for
      expect(size, name).to.deep.equal(await sharpSize(bytes));
    }
    expect(headerSize(await base().jpeg().withMetadata({ orientation: 6 }).toBuffer())).to.deep.equal({ width: 21, height: 37 });
  });

  it('agrees with sharp on PNGs (RGB, RGBA, palette, 16-bit) and leaves one with EXIF to sharp', async () => {
    const pngs = [
      await base().png().toBuffer(),
      await base().ensureAlpha().png().toBuffer(),
      await base().png({ palette: true }).toBuffer(),
      await base().toColourspace('rgb16').png().toBuffer(),
    ];
    for (const bytes of pngs) expect(headerSize(bytes)).to.deep.equal(await sharpSize(bytes));
    const withExif = await base().png().withMetadata({ orientation: 6 }).toBuffer();
    const size = headerSize(withExif);
    if (size !== undefined) expect(size).to.deep.equal(await sharpSize(withExif));
  });

  it('answers undefined, never throws, for other formats and broken or truncated headers', async () => {
    const jpeg = await base().jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const png = await base().png().toBuffer();
    const cases = [
      await base().webp().toBuffer(),
      Buffer.alloc(0),
      Buffer.from([0xff, 0xd8]),
      Buffer.from('not an image at all'),
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff]), Buffer.alloc(10)]), // a segment longer than the file
    ];
    for (let cut = 3; cut < 400 && cut < jpeg.length; cut += 7) cases.push(jpeg.subarray(0, cut));
    for (let cut = 8; cut < 40; cut += 3) cases.push(png.subarray(0, cut));
    for (const bytes of cases) {
      const size = headerSize(bytes);
      if (size !== undefined) expect(size).to.deep.equal(await sharpSize(Buffer.from(bytes)).catch(() => 'sharp cannot read it'));
    }
    const twoExif = Buffer.from(jpeg); // the APP1 Exif segment again right after it: leave the choice to sharp
    const app1 = twoExif.indexOf(Buffer.from('Exif\0\0')) - 4;
    const length = twoExif.readUInt16BE(app1 + 2);
    const doubled = Buffer.concat([twoExif.subarray(0, app1 + 2 + length), twoExif.subarray(app1, app1 + 2 + length), twoExif.subarray(app1 + 2 + length)]);
    expect(headerSize(doubled)).to.equal(undefined);
  });
});
