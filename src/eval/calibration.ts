// Calibration: temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks") fitted by
// minimising the negative log-likelihood over log T with golden-section search (the NLL of logits / T is
// convex in 1/T, hence unimodal in log T), and the expected calibration error with equal-width confidence
// bins (Naeini et al. 2015; Guo et al. 2017): ECE = sum_b |B_b|/n * |acc(B_b) - conf(B_b)|, bins (lo, hi].
import { ConfigError, ShapeError } from '../errors.ts';
import { asMatrix, assertLabels, row, softmaxRows, type Matrix, type MatrixLike } from '../tasks/matrix.ts';

/** Mean negative log-likelihood of labels under softmax(logits / T). */
export function nllAtTemperature(logits: Matrix, labels: ArrayLike<number>, t: number): number {
  let total = 0;
  for (let i = 0; i < logits.rows; i++) {
    const r = row(logits, i);
    let mx = -Infinity;
    for (const v of r) mx = Math.max(mx, v / t);
    let s = 0;
    for (const v of r) s += Math.exp(v / t - mx);
    total += mx + Math.log(s) - r[labels[i]!]! / t;
  }
  return total / logits.rows;
}

/**
 * Fit a temperature on held-out logits [N x C] and labels; returns T (divide logits by it) and the NLL
 * before and after. A calibration set with a single class is a ConfigError.
 * @example fitTemperature([[2, 0], [0, 2], [2, 0], [2, 0]], [0, 1, 1, 0]).temperature // 1.82 (over-confident logits soften)
 */
export function fitTemperature(logits: MatrixLike, labels: ArrayLike<number>, opts: { minT?: number; maxT?: number; tol?: number } = {}): { temperature: number; nllBefore: number; nllAfter: number } {
  const z = asMatrix(logits, 'calibration logits');
  assertLabels(labels, z.cols, 'calibration labels', z.rows);
  if (new Set(Array.from(labels)).size < 2) throw new ConfigError(`calibration labels: all ${z.rows} examples are class ${labels[0]}; temperature scaling needs at least two classes`);
  const minT = opts.minT ?? 0.01;
  const maxT = opts.maxT ?? 100;
  const tol = opts.tol ?? 1e-7;
  if (!(minT > 0 && maxT > minT)) throw new ConfigError(`temperature range: expected 0 < minT < maxT, got ${minT}, ${maxT}`);
  const f = (logT: number) => nllAtTemperature(z, labels, Math.exp(logT));
  const g = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(minT);
  let b = Math.log(maxT);
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > tol) {
    if (fc < fd) {
      b = d; d = c; fd = fc;
      c = b - g * (b - a); fc = f(c);
    } else {
      a = c; c = d; fc = fd;
      d = a + g * (b - a); fd = f(d);
    }
  }
  const temperature = Math.exp((a + b) / 2);
  return { temperature, nllBefore: f(0), nllAfter: f(Math.log(temperature)) };
}

/**
 * Logits divided by T, then softmax: calibrated probabilities [N x C].
 * @example applyTemperature([[2, 0]], 2).data // [0.731, 0.269]
 */
export function applyTemperature(logits: MatrixLike, temperature: number): Matrix {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new ConfigError(`temperature: expected a positive finite number, got ${temperature}`);
  const z = asMatrix(logits, 'logits');
  return softmaxRows({ rows: z.rows, cols: z.cols, data: z.data.map((v) => v / temperature) });
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence in the bin (NaN when empty). */
  confidence: number;
  /** Accuracy in the bin (NaN when empty). */
  accuracy: number;
}

/** Top-label confidences and correctness from probabilities [N x C] and labels. */
function topLabel(probs: MatrixLike, labels: ArrayLike<number>): { conf: number[]; correct: boolean[] } {
  const p = asMatrix(probs, 'probabilities');
  assertLabels(labels, p.cols, 'labels', p.rows);
  const conf: number[] = [];
  const correct: boolean[] = [];
  for (let i = 0; i < p.rows; i++) {
    const r = row(p, i);
    let best = 0;
    for (let j = 1; j < r.length; j++) if (r[j]! > r[best]!) best = j;
    if (r[best]! < 0 || r[best]! > 1) throw new ShapeError(`probabilities: row ${i} has confidence ${r[best]} outside [0, 1]`);
    conf.push(r[best]!);
    correct.push(best === labels[i]);
  }
  return { conf, correct };
}

/**
 * Equal-width reliability-diagram bins over top-label confidence; bin b is (b/nBins, (b+1)/nBins], with a
 * confidence of exactly 0 in the first bin.
 * @example reliabilityBins([[0.9, 0.1], [0.4, 0.6]], [0, 0], 2).map((b) => b.count) // [0, 2]
 */
export function reliabilityBins(probs: MatrixLike, labels: ArrayLike<number>, nBins = 15): ReliabilityBin[] {
  if (!Number.isInteger(nBins) || nBins < 1) throw new ConfigError(`nBins: expected a positive integer, got ${nBins}`);
  const { conf, correct } = topLabel(probs, labels);
  const count = new Array<number>(nBins).fill(0);
  const sumConf = new Array<number>(nBins).fill(0);
  const sumAcc = new Array<number>(nBins).fill(0);
  conf.forEach((c, i) => {
    const b = Math.min(nBins - 1, Math.max(0, Math.ceil(c * nBins) - 1));
    count[b]!++;
    sumConf[b]! += c;
    sumAcc[b]! += correct[i] ? 1 : 0;
  });
  return count.map((n, b) => ({ lo: b / nBins, hi: (b + 1) / nBins, count: n, confidence: sumConf[b]! / n, accuracy: sumAcc[b]! / n }));
}

/**
 * Expected calibration error (top-label, equal-width bins, 15 by default as in Guo et al.).
 * @example expectedCalibrationError([[0.9, 0.1], [0.4, 0.6]], [0, 0], 2) // 0.25  (|0.5 - 0.75|)
 */
export function expectedCalibrationError(probs: MatrixLike, labels: ArrayLike<number>, nBins = 15): number {
  const bins = reliabilityBins(probs, labels, nBins);
  const n = bins.reduce((s, b) => s + b.count, 0);
  return bins.reduce((s, b) => (b.count === 0 ? s : s + (b.count / n) * Math.abs(b.accuracy - b.confidence)), 0);
}
