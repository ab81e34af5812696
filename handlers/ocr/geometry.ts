/** Small plane-geometry helpers for text boxes: convex hull, minimum-area rectangle, corner order. */

export type Point = [number, number];
/** Four corners: top-left, top-right, bottom-right, bottom-left. */
export type Quad = [Point, Point, Point, Point];

/** A rotated rectangle: centre, unit vector along its `w` side (the `h` side is perpendicular to it). */
export interface Rect {
  cx: number;
  cy: number;
  ux: number;
  uy: number;
  w: number;
  h: number;
}

const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** Andrew's monotone chain; returns the hull counter-clockwise (in y-up terms), without collinear points. */
export function convexHull(points: Point[]): Point[] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** The smallest-area rectangle around a convex hull: one of its sides lies along a hull edge. */
export function minAreaRect(hull: Point[]): Rect | null {
  if (hull.length < 3) return null;
  let best: Rect | null = null;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i];
    const b = hull[(i + 1) % hull.length];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (len === 0) continue;
    const ux = (b[0] - a[0]) / len;
    const uy = (b[1] - a[1]) / len;
    let minU = Infinity, maxU = -Infinity, minV = Infinity, maxV = -Infinity;
    for (const [x, y] of hull) {
      const u = x * ux + y * uy;
      const v = -x * uy + y * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, ux, uy, w: maxU - minU, h: maxV - minV };
    }
  }
  return best;
}

/** The rectangle's corners, in PaddleOCR's order (see orderQuad). */
export function rectCorners(r: Rect): Quad {
  const ax = (r.ux * r.w) / 2, ay = (r.uy * r.w) / 2; // half of the w side
  const bx = (-r.uy * r.h) / 2, by = (r.ux * r.h) / 2; // half of the h side
  return orderQuad([
    [r.cx - ax - bx, r.cy - ay - by],
    [r.cx + ax - bx, r.cy + ay - by],
    [r.cx + ax + bx, r.cy + ay + by],
    [r.cx - ax + bx, r.cy - ay + by],
  ]);
}

/** Orders four corners as top-left, top-right, bottom-right, bottom-left (left pair / right pair by x, then y). */
export function orderQuad(points: Point[]): Quad {
  const byX = [...points].sort((a, b) => a[0] - b[0]);
  const [tl, bl] = byX.slice(0, 2).sort((a, b) => a[1] - b[1]);
  const [tr, br] = byX.slice(2, 4).sort((a, b) => a[1] - b[1]);
  return [tl, tr, br, bl];
}

/** Whether (x, y) lies inside a convex quad, or within `tol` of its edges. */
export function insideQuad(q: Quad, x: number, y: number, tol: number): boolean {
  let sign = 0;
  for (let i = 0; i < 4; i++) {
    const a = q[i];
    const b = q[(i + 1) % 4];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
    const d = cross(a, b, [x, y]) / len; // signed distance from the edge's line
    if (sign === 0) sign = Math.sign(cross(a, b, q[(i + 2) % 4])) || 1;
    if (d * sign < -tol) return false;
  }
  return true;
}

export const distance = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);

/**
 * Reading order: top to bottom, then left to right within a line. Boxes whose vertical centres are closer
 * than half the smaller box height to the first box of a line belong to that line.
 */
export function readingOrder(quads: Quad[]): Quad[] {
  const info = quads.map((q) => {
    const ys = q.map((p) => p[1]);
    const top = Math.min(...ys);
    const bottom = Math.max(...ys);
    return { q, cy: (top + bottom) / 2, h: bottom - top, left: Math.min(...q.map((p) => p[0])) };
  });
  info.sort((a, b) => a.cy - b.cy);
  const lines: (typeof info)[] = [];
  for (const box of info) {
    const line = lines[lines.length - 1];
    if (line && Math.abs(box.cy - line[0].cy) < 0.5 * Math.min(box.h, line[0].h)) line.push(box);
    else lines.push([box]);
  }
  return lines.flatMap((line) => line.sort((a, b) => a.left - b.left).map((b) => b.q));
}
