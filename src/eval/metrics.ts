// Evaluation metrics. AUROC is the Mann-Whitney statistic with average ranks for ties, which equals the
// trapezoidal area under the ROC curve whose tied scores share one point (as scikit-learn's roc_auc_score
// computes it). Bootstrap confidence intervals follow CheXzero (Tiu et al. 2022): resample the test set
// with replacement 1,000 times and take the 2.5th and 97.5th percentiles; a resample in which a class has
// only positives or only negatives has no AUROC and is skipped (the count of skipped resamples is reported).
// Classification metrics follow their textbook definitions: balanced accuracy as mean per-class recall
// (Brodersen et al. 2010), macro F1 as the unweighted mean of per-class F1 (0 where undefined), and the
// multiclass Matthews correlation (Gorodkin 2004).
import { ConfigError, ShapeError } from '../errors.ts';
import { asMatrix, assertFinite, type MatrixLike } from '../tasks/matrix.ts';
import { mulberry32 } from './prng.ts';

function checkBinary(scores: ArrayLike<number>, labels: ArrayLike<number>, name: string): { pos: number; neg: number } {
  if (scores.length !== labels.length) throw new ShapeError(`${name}: ${scores.length} scores for ${labels.length} labels`);
  assertFinite(scores, `${name} scores`);
  let pos = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y !== 0 && y !== 1) throw new ShapeError(`${name}: label ${y} at index ${i}, expected 0 or 1`);
    pos += y;
  }
  return { pos, neg: labels.length - pos };
}

/** AUROC of index subset `idx` (or all), or NaN when the subset has one class. */
function aucOf(scores: ArrayLike<number>, labels: ArrayLike<number>, idx?: ArrayLike<number>): number {
  const n = idx ? idx.length : scores.length;
  const order = Array.from({ length: n }, (_, i) => (idx ? idx[i]! : i));
  order.sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let pos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avgRank = (i + j + 2) / 2; // 1-based ranks i+1 .. j+1
    for (let k = i; k <= j; k++) if (labels[order[k]!] === 1) { rankSumPos += avgRank; pos++; }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Area under the ROC curve for binary labels (0/1). One class only is a ShapeError, as AUROC is undefined.
 * @example rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) // 0.75
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { pos, neg } = checkBinary(scores, labels, 'rocAuc');
  if (pos === 0 || neg === 0) throw new ShapeError(`rocAuc: labels have ${pos} positives and ${neg} negatives; AUROC needs both`);
  return aucOf(scores, labels);
}

/**
 * ROC curve points at each distinct threshold, highest first, starting at (0, 0) with threshold Infinity.
 * With dropIntermediate (the default, as scikit-learn) points collinear with both neighbours are dropped.
 * @example rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) // { fpr: [0, 0, 0.5, 0.5, 1], tpr: [0, 0.5, 0.5, 1, 1], thresholds: [Infinity, 0.8, 0.4, 0.35, 0.1] }
 */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>, opts: { dropIntermediate?: boolean } = {}): { fpr: number[]; tpr: number[]; thresholds: number[] } {
  const { pos, neg } = checkBinary(scores, labels, 'rocCurve');
  if (pos === 0 || neg === 0) throw new ShapeError(`rocCurve: labels have ${pos} positives and ${neg} negatives; a ROC curve needs both`);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const tps: number[] = [];
  const fps: number[] = [];
  const thr: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; i++) {
    if (labels[order[i]!] === 1) tp++; else fp++;
    const last = i === order.length - 1 || scores[order[i + 1]!] !== scores[order[i]!];
    if (last) { tps.push(tp); fps.push(fp); thr.push(scores[order[i]!]!); }
  }
  let keep = tps.map((_, i) => i);
  if (opts.dropIntermediate ?? true) {
    keep = keep.filter((i) => i === 0 || i === tps.length - 1 || fps[i - 1]! - 2 * fps[i]! + fps[i + 1]! !== 0 || tps[i - 1]! - 2 * tps[i]! + tps[i + 1]! !== 0);
  }
  return {
    fpr: [0, ...keep.map((i) => fps[i]! / neg)],
    tpr: [0, ...keep.map((i) => tps[i]! / pos)],
    thresholds: [Infinity, ...keep.map((i) => thr[i]!)],
  };
}

/**
 * Percentile with linear interpolation between order statistics (numpy's default), q in [0, 100].
 * @example percentile([1, 2, 3, 4], 50) // 2.5
 */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new ShapeError('percentile: no values');
  const s = [...values].sort((a, b) => a - b);
  const pos = (q / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (pos - lo) * (s[hi]! - s[lo]!);
}

export interface AurocCI {
  auroc: number;
  lo: number;
  hi: number;
}

export interface AurocReport {
  classes: string[];
  perClass: AurocCI[];
  macro: AurocCI;
  /** Resamples drawn, and how many were skipped because some class had a single label value. */
  resamples: number;
  skipped: number;
}

/**
 * Per-class and macro AUROC with percentile bootstrap CIs, for multi-label scores [N x C] and 0/1 labels
 * [N x C]. Every class needs positives and negatives in the full set (ShapeError otherwise). A resample
 * where any class has one label value is skipped for all classes, so that per-class and macro intervals
 * come from the same resamples; if more than half are skipped it is a ShapeError (the set is too small).
 * @example aurocWithCI([[0.1], [0.4], [0.35], [0.8]], [[0], [0], [1], [1]], ['a'], { resamples: 200, seed: 0 }).perClass[0].auroc // 0.75
 */
export function aurocWithCI(scores: MatrixLike, labels: MatrixLike, classes: readonly string[], opts: { resamples?: number; seed?: number; level?: number } = {}): AurocReport {
  const s = asMatrix(scores, 'scores');
  const y = asMatrix(labels, 'labels', s.cols);
  if (y.rows !== s.rows) throw new ShapeError(`aurocWithCI: ${s.rows} score rows but ${y.rows} label rows`);
  if (classes.length !== s.cols) throw new ShapeError(`aurocWithCI: ${classes.length} class names for ${s.cols} columns`);
  const resamples = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new ConfigError(`resamples: expected a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new ConfigError(`level: expected a number in (0, 1), got ${level}`);
  const n = s.rows;
  const c = s.cols;
  const cols = Array.from({ length: c }, (_, j) => ({
    s: Float64Array.from({ length: n }, (_, i) => s.data[i * c + j]!),
    y: Float64Array.from({ length: n }, (_, i) => y.data[i * c + j]!),
  }));
  const point = cols.map((col, j) => {
    const { pos, neg } = checkBinary(col.s, col.y, `class '${classes[j]}'`);
    if (pos === 0 || neg === 0) throw new ShapeError(`class '${classes[j]}': ${pos} positives and ${neg} negatives; AUROC needs both`);
    return aucOf(col.s, col.y);
  });
  const rng = mulberry32(opts.seed ?? 0);
  const boot: number[][] = Array.from({ length: c }, () => []);
  const bootMacro: number[] = [];
  const idx = new Int32Array(n);
  let skipped = 0;
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rng() * n);
    const vals = cols.map((col) => aucOf(col.s, col.y, idx));
    if (vals.some(Number.isNaN)) { skipped++; continue; }
    vals.forEach((v, j) => boot[j]!.push(v));
    bootMacro.push(vals.reduce((a, b) => a + b, 0) / c);
  }
  if (skipped * 2 > resamples) throw new ShapeError(`aurocWithCI: ${skipped} of ${resamples} resamples had a class with a single label value; too few positives or negatives for a bootstrap CI`);
  const qlo = ((1 - level) / 2) * 100;
  const qhi = 100 - qlo;
  const ci = (v: number, b: number[]): AurocCI => ({ auroc: v, lo: percentile(b, qlo), hi: percentile(b, qhi) });
  return {
    classes: [...classes],
    perClass: point.map((v, j) => ci(v, boot[j]!)),
    macro: ci(point.reduce((a, b) => a + b, 0) / c, bootMacro),
    resamples,
    skipped,
  };
}

function checkPair(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, name: string): number {
  if (yTrue.length !== yPred.length) throw new ShapeError(`${name}: ${yTrue.length} true labels for ${yPred.length} predictions`);
  if (yTrue.length === 0) throw new ShapeError(`${name}: no labels`);
  let max = 0;
  for (const arr of [yTrue, yPred]) {
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i]!;
      if (!Number.isInteger(v) || v < 0) throw new ShapeError(`${name}: label ${v} at index ${i} is not a non-negative integer`);
      max = Math.max(max, v);
    }
  }
  return max + 1;
}

/**
 * Confusion matrix [C x C]: rows are true classes, columns predicted.
 * @example confusionMatrix([0, 1, 1], [0, 0, 1]) // [[1, 0], [1, 1]]
 */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses?: number): number[][] {
  const seen = checkPair(yTrue, yPred, 'confusionMatrix');
  const c = numClasses ?? seen;
  if (seen > c) throw new ShapeError(`confusionMatrix: label ${seen - 1} is outside numClasses = ${c}`);
  const m = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]!]![yPred[i]!]!++;
  return m;
}

/**
 * Fraction of correct predictions.
 * @example accuracy([0, 1, 1], [0, 0, 1]) // 0.6667
 */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  checkPair(yTrue, yPred, 'accuracy');
  let k = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) k++;
  return k / yTrue.length;
}

/**
 * Mean recall over the classes present in yTrue.
 * @example balancedAccuracy([0, 1, 1], [0, 0, 1]) // 0.75
 */
export function balancedAccuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const m = confusionMatrix(yTrue, yPred);
  let sum = 0;
  let k = 0;
  m.forEach((r, i) => {
    const t = r.reduce((a, b) => a + b, 0);
    if (t > 0) { sum += r[i]! / t; k++; }
  });
  return sum / k;
}

/**
 * Unweighted mean F1 over the classes that appear in yTrue or yPred (F1 = 0 where precision and recall are both 0).
 * @example macroF1([0, 1, 1], [0, 0, 1]) // 0.6667
 */
export function macroF1(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const m = confusionMatrix(yTrue, yPred);
  let sum = 0;
  let k = 0;
  for (let c = 0; c < m.length; c++) {
    const tp = m[c]![c]!;
    const actual = m[c]!.reduce((a, b) => a + b, 0);
    const predicted = m.reduce((a, r) => a + r[c]!, 0);
    if (actual === 0 && predicted === 0) continue;
    sum += actual + predicted === 0 ? 0 : (2 * tp) / (actual + predicted);
    k++;
  }
  return sum / k;
}

/**
 * Matthews correlation coefficient, multiclass (0 when it is undefined, e.g. a constant prediction).
 * @example matthewsCorrcoef([0, 1, 1], [0, 0, 1]) // 0.5
 */
export function matthewsCorrcoef(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const m = confusionMatrix(yTrue, yPred);
  const c = m.length;
  const n = yTrue.length;
  let correct = 0;
  const t = new Array<number>(c).fill(0);
  const p = new Array<number>(c).fill(0);
  for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) { t[i]! += m[i]![j]!; p[j]! += m[i]![j]!; }
  for (let i = 0; i < c; i++) correct += m[i]![i]!;
  let tp = 0, tt = 0, pp = 0;
  for (let k = 0; k < c; k++) { tp += t[k]! * p[k]!; tt += t[k]! * t[k]!; pp += p[k]! * p[k]!; }
  const den = Math.sqrt((n * n - pp) * (n * n - tt));
  return den === 0 ? 0 : (correct * n - tp) / den;
}

/**
 * Recall@K for ranked retrieval: the fraction of queries with at least one relevant item among the K most
 * similar. sim is [Q x G]; relevant[q] lists the relevant gallery indices of query q (at least one).
 * @example recallAtK([[0.9, 0.1], [0.8, 0.2]], [[0], [1]], 1) // 0.5
 */
export function recallAtK(sim: MatrixLike, relevant: readonly (readonly number[])[], k: number): number {
  const ranks = firstRelevantRanks(sim, relevant);
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`k: expected a positive integer, got ${k}`);
  return ranks.filter((r) => r <= k).length / ranks.length;
}

/**
 * For each query, the 1-based rank of its best-ranked relevant item (ties ranked pessimistically: an item
 * tied with a relevant one counts as above it, so a constant similarity never looks good).
 * @example firstRelevantRanks([[0.9, 0.1], [0.8, 0.2]], [[0], [1]]) // [1, 2]
 */
export function firstRelevantRanks(sim: MatrixLike, relevant: readonly (readonly number[])[]): number[] {
  const s = asMatrix(sim, 'similarity');
  if (relevant.length !== s.rows) throw new ShapeError(`retrieval: ${relevant.length} relevance lists for ${s.rows} queries`);
  return relevant.map((rel, q) => {
    if (rel.length === 0) throw new ShapeError(`retrieval: query ${q} has no relevant item`);
    let best = -Infinity;
    for (const g of rel) {
      if (!Number.isInteger(g) || g < 0 || g >= s.cols) throw new ShapeError(`retrieval: query ${q} names item ${g}, expected an index in [0, ${s.cols})`);
      best = Math.max(best, s.data[q * s.cols + g]!);
    }
    const relSet = new Set(rel);
    let rank = 1;
    for (let g = 0; g < s.cols; g++) if (!relSet.has(g) && s.data[q * s.cols + g]! >= best) rank++;
    return rank;
  });
}
