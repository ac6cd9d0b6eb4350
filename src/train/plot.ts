// The loss curve of a run as a small standalone SVG: training loss per step, validation loss per epoch.

interface Point {
  step: number;
  loss?: number;
  val_loss?: number;
}

const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);

/**
 * An SVG plot of `metrics` (the rows of metrics.jsonl).
 * @example lossPlotSvg([{ step: 0, loss: 2 }, { step: 1, loss: 1 }]).startsWith('<svg') // true
 */
export function lossPlotSvg(metrics: readonly Point[], title = 'clipmed train: loss'): string {
  const W = 640;
  const H = 360;
  const m = { l: 56, r: 16, t: 32, b: 40 };
  const train = metrics.filter((p) => typeof p.loss === 'number' && Number.isFinite(p.loss));
  const val = metrics.filter((p) => typeof p.val_loss === 'number' && Number.isFinite(p.val_loss));
  const ys = [...train.map((p) => p.loss!), ...val.map((p) => p.val_loss!)];
  const xs = [...train.map((p) => p.step), ...val.map((p) => p.step)];
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(1, ...xs);
  const y0 = Math.min(0, ...ys);
  const y1 = Math.max(1e-9, ...ys) * 1.05;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const line = train.map((p) => `${X(p.step).toFixed(1)},${Y(p.loss!).toFixed(1)}`).join(' ');
  const ticks = Array.from({ length: 5 }, (_, i) => y0 + ((y1 - y0) * i) / 4);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="18" font-size="13">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#444"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#444"/>`,
    ...ticks.map((v) => `<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`),
    `<text x="${(W + m.l) / 2}" y="${H - 8}" text-anchor="middle">step (0 to ${x1})</text>`,
    `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${line}"/>`,
    ...val.map((p) => `<circle cx="${X(p.step).toFixed(1)}" cy="${Y(p.val_loss!).toFixed(1)}" r="3.5" fill="#d62728"><title>val loss ${p.val_loss!.toFixed(4)} at step ${p.step}</title></circle>`),
    `<text x="${W - m.r - 150}" y="${m.t + 4}" fill="#1f77b4">— training loss</text>`,
    ...(val.length ? [`<text x="${W - m.r - 150}" y="${m.t + 18}" fill="#d62728">● validation loss</text>`] : []),
    '</svg>',
    '',
  ].join('\n');
}
