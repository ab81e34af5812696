/** A small SVG chart built by hand: panels of lines (throughput, p99) against concurrency. */

export interface Series {
  label: string;
  colour: string;
  dashed?: boolean;
  /** y per x, in the order of the chart's xs; NaN for a missing point. */
  ys: number[];
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
}

const W = 440;
const H = 300;
const M = { left: 62, right: 16, top: 34, bottom: 70 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 1, 2 or 5 times a power of ten, at least `x / 5`: about five ticks to `max`. */
function niceStep(max: number): number {
  const rough = max / 5;
  const p = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= rough) ?? 10 * p;
}

const fmt = (v: number) => (v >= 1000 ? `${Math.round(v / 100) / 10}k` : String(Math.round(v * 100) / 100));

function panel(p: Panel, xs: number[], ox: number, oy: number): string {
  const all = p.series.flatMap((s) => s.ys).filter(Number.isFinite);
  const step = niceStep(Math.max(1e-9, ...all) * 1.08);
  const top = Math.ceil((Math.max(1e-9, ...all) * 1.08) / step) * step;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (i: number) => ox + M.left + (xs.length === 1 ? pw / 2 : (i * pw) / (xs.length - 1));
  const y = (v: number) => oy + M.top + ph - (v / top) * ph;
  const out: string[] = [];
  out.push(`<text x="${ox + W / 2}" y="${oy + 20}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(`<line x1="${ox + M.left}" x2="${ox + W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${ox + M.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`);
  }
  xs.forEach((c, i) => out.push(`<text x="${x(i)}" y="${oy + H - M.bottom + 16}" text-anchor="middle" font-size="11">${c}</text>`));
  out.push(`<text x="${ox + M.left + pw / 2}" y="${oy + H - M.bottom + 32}" text-anchor="middle" font-size="11">concurrency (connections)</text>`);
  out.push(
    `<text transform="translate(${ox + 14},${oy + M.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(p.yLabel)}</text>`,
  );
  out.push(`<line x1="${ox + M.left}" x2="${ox + M.left}" y1="${oy + M.top}" y2="${oy + M.top + ph}" stroke="#888"/>`);
  out.push(`<line x1="${ox + M.left}" x2="${ox + W - M.right}" y1="${oy + M.top + ph}" y2="${oy + M.top + ph}" stroke="#888"/>`);
  p.series.forEach((s, k) => {
    const pts = s.ys.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : '')).filter(Boolean);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.colour}" stroke-width="2"${dash}/>`);
    s.ys.forEach((v, i) => {
      if (Number.isFinite(v)) out.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.colour}"/>`);
    });
    // Legend under the axis label, one entry per line, so it never covers a curve.
    const ly = oy + H - M.bottom + 48 + k * 15;
    out.push(`<line x1="${ox + M.left + 10}" x2="${ox + M.left + 34}" y1="${ly}" y2="${ly}" stroke="${s.colour}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${ox + M.left + 40}" y="${ly + 4}" font-size="11">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

/** Panels laid out two per row, with a caption line at the bottom. */
export function chartSvg(panels: Panel[], xs: number[], caption: string): string {
  const rows = Math.ceil(panels.length / 2);
  const width = 2 * W;
  const height = rows * H + 28;
  const body = panels.map((p, i) => panel(p, xs, (i % 2) * W, Math.floor(i / 2) * H)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    body,
    `<text x="${width / 2}" y="${height - 10}" text-anchor="middle" font-size="11" fill="#555">${esc(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
