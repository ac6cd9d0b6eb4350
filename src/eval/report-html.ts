// A self-contained HTML evaluation report: a metrics table, per-class AUROC with bootstrap CIs, one inline
// SVG ROC curve per class and a reliability diagram. No scripts, fonts, images or style sheets from
// elsewhere, so the file can be archived or mailed as is. The markup is also well-formed XML (void elements
// self-closed) so that it can be checked with a strict parser.
import { ShapeError } from '../errors.ts';
import type { ReliabilityBin } from './calibration.ts';
import type { AurocReport } from './metrics.ts';

export interface RocSeries {
  name: string;
  fpr: readonly number[];
  tpr: readonly number[];
  auroc: number;
}

export interface EvalReportInput {
  title: string;
  /** Free text under the title: model, data set, date. */
  subtitle?: string;
  metrics?: readonly { name: string; value: number; note?: string }[];
  auroc?: AurocReport;
  roc?: readonly RocSeries[];
  reliability?: { bins: readonly ReliabilityBin[]; ece: number };
}

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const SIZE = 220;
const PAD = 34;

function axes(xLabel: string, yLabel: string): string {
  const inner = SIZE - 2 * PAD;
  const ticks = [0, 0.5, 1].map((t) => {
    const x = PAD + t * inner;
    const y = SIZE - PAD - t * inner;
    return `<text x="${x}" y="${SIZE - PAD + 14}" text-anchor="middle" class="tick">${t}</text>`
      + `<text x="${PAD - 6}" y="${y + 4}" text-anchor="end" class="tick">${t}</text>`;
  }).join('');
  return `<rect x="${PAD}" y="${PAD}" width="${inner}" height="${inner}" class="frame" />`
    + `<line x1="${PAD}" y1="${SIZE - PAD}" x2="${SIZE - PAD}" y2="${PAD}" class="diag" />${ticks}`
    + `<text x="${SIZE / 2}" y="${SIZE - 4}" text-anchor="middle" class="axis">${escapeHtml(xLabel)}</text>`
    + `<text x="10" y="${SIZE / 2}" text-anchor="middle" class="axis" transform="rotate(-90 10 ${SIZE / 2})">${escapeHtml(yLabel)}</text>`;
}

/** One ROC curve as an inline SVG element. */
export function rocSvg(series: RocSeries): string {
  if (series.fpr.length !== series.tpr.length || series.fpr.length < 2) throw new ShapeError(`ROC '${series.name}': ${series.fpr.length} fpr and ${series.tpr.length} tpr points`);
  const inner = SIZE - 2 * PAD;
  const pts = series.fpr.map((f, i) => `${(PAD + f * inner).toFixed(2)},${(SIZE - PAD - series.tpr[i]! * inner).toFixed(2)}`).join(' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}" role="img" aria-label="ROC curve for ${escapeHtml(series.name)}">`
    + `<title>ROC: ${escapeHtml(series.name)}</title>${axes('false positive rate', 'true positive rate')}`
    + `<polyline points="${pts}" class="curve" />`
    + `<text x="${SIZE / 2}" y="${PAD - 18}" text-anchor="middle" class="name">${escapeHtml(series.name)}</text>`
    + `<text x="${SIZE - PAD - 6}" y="${SIZE - PAD - 8}" text-anchor="end" class="value">AUROC ${fmt(series.auroc)}</text></svg>`;
}

/** A reliability diagram (accuracy per confidence bin against the diagonal) as an inline SVG element. */
export function reliabilitySvg(bins: readonly ReliabilityBin[], ece: number): string {
  const inner = SIZE - 2 * PAD;
  const bars = bins.filter((b) => b.count > 0).map((b) => {
    const x = PAD + b.lo * inner;
    const w = (b.hi - b.lo) * inner;
    const hAcc = b.accuracy * inner;
    const hConf = b.confidence * inner;
    return `<rect x="${x.toFixed(2)}" y="${(SIZE - PAD - hAcc).toFixed(2)}" width="${w.toFixed(2)}" height="${hAcc.toFixed(2)}" class="bar"><title>${fmt(b.lo, 2)}–${fmt(b.hi, 2)}: accuracy ${fmt(b.accuracy)}, confidence ${fmt(b.confidence)}, n=${b.count}</title></rect>`
      + `<rect x="${x.toFixed(2)}" y="${(SIZE - PAD - Math.max(hAcc, hConf)).toFixed(2)}" width="${w.toFixed(2)}" height="${Math.abs(hConf - hAcc).toFixed(2)}" class="gap" />`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}" role="img" aria-label="reliability diagram">`
    + `<title>Reliability diagram</title>${bars}${axes('confidence', 'accuracy')}`
    + `<text x="${SIZE / 2}" y="${PAD - 18}" text-anchor="middle" class="name">Reliability</text>`
    + `<text x="${PAD + 6}" y="${PAD + 14}" class="value">ECE ${fmt(ece)}</text></svg>`;
}

const STYLE = `body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1b1f24;max-width:1150px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}p.sub{color:#57606a;margin:0 0 12px}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}.charts{display:flex;flex-wrap:wrap;gap:8px}
svg{background:#fff;border:1px solid #eaeef2}.frame{fill:none;stroke:#8c959f}.diag{stroke:#afb8c1;stroke-dasharray:4 3}
.curve{fill:none;stroke:#0969da;stroke-width:2}.bar{fill:#54aeff;stroke:#0969da;stroke-width:.5}.gap{fill:#ff818266;stroke:#cf222e;stroke-width:.5}
.tick{font-size:10px;fill:#57606a}.axis{font-size:11px;fill:#24292f}.name{font-size:13px;font-weight:600;fill:#24292f}.value{font-size:12px;fill:#24292f}
.note{color:#57606a;font-size:12px}`;

/**
 * The full report as one HTML string.
 * @example renderEvalReport({ title: 'CheXpert zero-shot', metrics: [{ name: 'accuracy', value: 0.81 }] }).startsWith('<!DOCTYPE html>') // true
 */
export function renderEvalReport(input: EvalReportInput): string {
  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(input.title)}</h1>`);
  if (input.subtitle) parts.push(`<p class="sub">${escapeHtml(input.subtitle)}</p>`);
  if (input.metrics?.length) {
    const rows = input.metrics.map((m) => `<tr><td>${escapeHtml(m.name)}</td><td>${fmt(m.value, 4)}</td><td class="note">${escapeHtml(m.note ?? '')}</td></tr>`).join('');
    parts.push(`<h2>Metrics</h2><table><thead><tr><th>metric</th><th>value</th><th>note</th></tr></thead><tbody>${rows}</tbody></table>`);
  }
  if (input.auroc) {
    const a = input.auroc;
    const pct = `${a.resamples} bootstrap resamples` + (a.skipped ? `, ${a.skipped} skipped because a class had only one label value` : '');
    const rows = a.classes.map((c, i) => `<tr><td>${escapeHtml(c)}</td><td>${fmt(a.perClass[i]!.auroc)}</td><td>${fmt(a.perClass[i]!.lo)} – ${fmt(a.perClass[i]!.hi)}</td></tr>`).join('')
      + `<tr><th>macro</th><th>${fmt(a.macro.auroc)}</th><th>${fmt(a.macro.lo)} – ${fmt(a.macro.hi)}</th></tr>`;
    parts.push(`<h2>AUROC</h2><table><thead><tr><th>class</th><th>AUROC</th><th>95% CI</th></tr></thead><tbody>${rows}</tbody></table><p class="note">Percentile intervals from ${pct}.</p>`);
  }
  if (input.roc?.length) parts.push(`<h2>ROC curves</h2><div class="charts">${input.roc.map(rocSvg).join('')}</div>`);
  if (input.reliability) parts.push(`<h2>Calibration</h2><div class="charts">${reliabilitySvg(input.reliability.bins, input.reliability.ece)}</div><p class="note">Bars: accuracy per equal-width confidence bin; red: gap to the bin's mean confidence.</p>`);
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" />`
    + `<title>${escapeHtml(input.title)}</title><style>${STYLE}</style></head><body>${parts.join('\n')}</body></html>\n`;
}
