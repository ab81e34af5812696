import { expect } from 'chai';
import { byScore, nms, type Candidates } from '../../handlers/detection/nms.ts';
import { yoloLayout } from '../../handlers/detection/layouts.ts';

function candidates(list: Array<[number, number, number, number, number, number]>): Candidates {
  return {
    count: list.length,
    boxes: Float32Array.from(list.flatMap(([x1, y1, x2, y2]) => [x1, y1, x2, y2])),
    scores: Float32Array.from(list.map((c) => c[4])),
    classes: Int32Array.from(list.map((c) => c[5])),
  };
}

describe('handlers/detection/nms', () => {
  it('keeps the best of overlapping boxes of one class, best first', () => {
    const c = candidates([
      [0, 0, 10, 10, 0.6, 0], // IoU with #1: 81/100 → dropped
      [0, 0, 10, 9, 0.9, 0],
      [50, 50, 60, 60, 0.7, 0], // apart → kept
    ]);
    expect(nms(c, 0.5, 100)).to.deep.equal([1, 2]);
  });

  it('suppresses only above the IoU threshold (IoU exactly at it is kept)', () => {
    // Boxes of area 100 overlapping by 50 → IoU 50/150 = 1/3.
    const c = candidates([[0, 0, 10, 10, 0.9, 0], [5, 0, 15, 10, 0.8, 0]]);
    expect(nms(c, 1 / 3 + 1e-6, 100)).to.deep.equal([0, 1]);
    expect(nms(c, 0.3, 100)).to.deep.equal([0]);
  });

  it('never suppresses across classes, and stops at max detections', () => {
    const c = candidates([[0, 0, 10, 10, 0.9, 0], [0, 0, 10, 10, 0.8, 1], [0, 0, 10, 10, 0.7, 2], [20, 20, 30, 30, 0.95, 0]]);
    expect(nms(c, 0.5, 100)).to.deep.equal([3, 0, 1, 2]);
    expect(nms(c, 0.5, 2)).to.deep.equal([3, 0]);
    expect(nms(candidates([]), 0.5, 10)).to.deep.equal([]);
  });

  it('agrees with the textbook all-pairs loop on thousands of random boxes', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const list: Array<[number, number, number, number, number, number]> = [];
    for (let i = 0; i < 3000; i++) {
      const x = rand() * 600;
      const y = rand() * 600;
      list.push([x, y, x + 10 + rand() * 60, y + 10 + rand() * 60, rand(), Math.floor(rand() * 5)]);
    }
    const c = candidates(list);
    // Textbook: sort, then each kept box suppresses every later box of its class with IoU > t.
    const order = [...list.keys()].sort((a, b) => c.scores[b] - c.scores[a] || a - b);
    const gone = new Set<number>();
    const expected: number[] = [];
    for (const i of order) {
      if (gone.has(i)) continue;
      expected.push(i);
      for (const j of order) {
        if (j === i || gone.has(j) || list[j][5] !== list[i][5]) continue;
        const [a, b] = [list[i], list[j]];
        const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
        const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
        const area = (q: typeof a) => (Math.fround(q[2]) - Math.fround(q[0])) * (Math.fround(q[3]) - Math.fround(q[1]));
        if (w * h > 0.45 * (area(a) + area(b) - w * h) && c.scores[j] <= c.scores[i]) gone.add(j);
      }
    }
    expect(nms(c, 0.45, 100_000)).to.deep.equal(expected);
    expect(nms(c, 0.45, 100)).to.deep.equal(expected.slice(0, 100));
  });
});

describe('handlers/detection/nms byScore', () => {
  it('orders by descending score, ties by index, zero, negative and NaN scores last', () => {
    expect([...byScore(Float32Array.from([0.5, NaN, -1, 0.5, 1, 0, 1e-30, Infinity]), 8)]).to.deep.equal([7, 4, 0, 3, 6, 1, 2, 5]);
  });
});

describe('handlers/detection/layouts yoloLayout', () => {
  it('tells YOLOv8 [N, 4+C, boxes] from YOLOv5 [N, boxes, 5+C]', () => {
    expect(yoloLayout(84, 8400)).to.equal('yolov8');
    expect(yoloLayout(25200, 85)).to.equal('yolov5');
    expect(yoloLayout(7, 6, 3)).to.equal('yolov8'); // few boxes: the class count decides
    expect(yoloLayout(9, 8, 3)).to.equal('yolov5');
  });
});
