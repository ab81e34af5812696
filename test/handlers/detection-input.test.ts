import { expect } from 'chai';
import { batchBuffer, inputSpec, tensorDims, writeImage } from '../../handlers/detection/input.ts';

const meta = (shape: Array<number | string>, type = 'float32') => ({ name: 'in', isTensor: true, type, shape });

describe('handlers/detection/input', () => {
  it('tells NCHW, CHW and NHWC apart and takes a free size from input_size', () => {
    expect(tensorDims(inputSpec('in', meta(['N', 3, 480, 640]), {}), 2)).to.deep.equal([2, 3, 480, 640]);
    expect(tensorDims(inputSpec('in', meta([3, 'H', 'W']), { input_size: [320, 512] }), 1)).to.deep.equal([3, 320, 512]);
    expect(tensorDims(inputSpec('in', meta(['N', 'H', 'W', 3], 'uint8'), {}), 4)).to.deep.equal([4, 640, 640, 3]);
    expect(inputSpec('in', meta([1, 3, 64, 64]), {}).batched).to.equal(false);
    expect(() => inputSpec('in', meta([4, 3, 64, 64]), {})).to.throw(/batch fixed at 4/);
    expect(() => inputSpec('in', meta(['N', 3, 64, 64], 'int64'), {})).to.throw(/int64; the handler feeds float32 or uint8/);
  });

  it('writes RGB bytes planar or interleaved, scaled to [0, 1] then by mean/std, or as bytes for uint8', () => {
    const rgb = Uint8Array.from([255, 0, 51, 0, 255, 102]); // two pixels
    const nchw = inputSpec('in', meta(['N', 3, 1, 2]), {});
    const a = batchBuffer(nchw, 1, new Float32Array(0));
    writeImage(nchw, rgb, a, 0);
    expect(Array.from(a, (v) => Math.round(v * 100) / 100)).to.deep.equal([1, 0, 0, 1, 0.2, 0.4]);

    const normed = inputSpec('in', meta(['N', 1, 2, 3]), { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(normed.nhwc).to.equal(true);
    const b = batchBuffer(normed, 1, a);
    writeImage(normed, rgb, b, 0);
    expect(Array.from(b, (v) => Math.round(v * 100) / 100)).to.deep.equal([1, -1, -0.6, -1, 1, -0.2]);

    const bytes = inputSpec('in', meta(['N', 1, 2, 3], 'uint8'), {});
    const c = batchBuffer(bytes, 2, b);
    expect(c).to.be.instanceOf(Uint8Array);
    writeImage(bytes, rgb, c, 1);
    expect([...c.subarray(6)]).to.deep.equal([...rgb]);
  });
});
