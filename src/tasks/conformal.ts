// Split conformal prediction for classification (Vovk et al. 2005; Angelopoulos & Bates 2021, "A Gentle
// Introduction to Conformal Prediction"). Scores: LAC, 1 - p_y (Sadinle et al. 2019), and APS, the
// probability mass of the classes ranked at or above y (Romano et al. 2020), optionally randomised
// (only a uniform fraction u of p_y counts). The threshold is the ceil((n+1)(1-alpha))-th smallest
// calibration score, i.e. the empirical quantile at level ceil((n+1)(1-alpha))/n; a test set then covers
// its true label with probability at least 1 - alpha under exchangeability.
import { ConfigError, ShapeError } from '../errors.ts';
import { mulberry32, type Random } from '../eval/prng.ts';
import { asMatrix, assertLabels, row, type Matrix, type MatrixLike } from './matrix.ts';

export type ConformalMethod = 'lac' | 'aps' | 'aps-randomized';

export interface ConformalCalibration {
  method: ConformalMethod;
  alpha: number;
  /** Calibration set size. */
  n: number;
  /** The score threshold: class y is in the set when score(x, y) <= qhat. Infinity when n is too small for alpha. */
  qhat: number;
}

function checkProbs(m: Matrix, name: string): void {
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (const v of row(m, i)) {
      if (v < 0 || v > 1) throw new ShapeError(`${name}: row ${i} has probability ${v} outside [0, 1]`);
      s += v;
    }
    if (Math.abs(s - 1) > 1e-3) throw new ShapeError(`${name}: row ${i} sums to ${s}, expected 1 (pass softmax probabilities)`);
  }
}

/** Score of class y for one probability row; u in [0, 1] is used by aps-randomized only. */
function score(p: Float32Array, y: number, method: ConformalMethod, u: number): number {
  const py = p[y]!;
  if (method === 'lac') return 1 - py;
  // classes ranked before y: higher probability, ties broken by index
  let above = 0;
  for (let j = 0; j < p.length; j++) if (p[j]! > py || (p[j] === py && j < y)) above += p[j]!;
  return method === 'aps' ? above + py : above + u * py;
}

/**
 * Conformity scores of the true labels. `rng` draws u for aps-randomized.
 * @example conformalScores([[0.7, 0.2, 0.1]], [1], 'aps') // [0.9]
 */
export function conformalScores(probs: MatrixLike, labels: ArrayLike<number>, method: ConformalMethod, rng: Random = mulberry32(0)): number[] {
  const p = asMatrix(probs, 'probabilities');
  checkProbs(p, 'probabilities');
  assertLabels(labels, p.cols, 'labels', p.rows);
  return Array.from({ length: p.rows }, (_, i) => score(row(p, i), labels[i]!, method, method === 'aps-randomized' ? rng() : 1));
}

/**
 * The ceil((n+1)(1-alpha))-th smallest score; Infinity when that exceeds n (too few calibration points).
 * @example conformalQuantile([0.1, 0.2, 0.3, 0.4], 0.5) // 0.3  (ceil(5 * 0.5) = 3rd smallest)
 */
export function conformalQuantile(scores: readonly number[], alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new ConfigError(`alpha: expected a number in (0, 1), got ${alpha}`);
  if (scores.length === 0) throw new ShapeError('scores: empty calibration set');
  for (const s of scores) if (Number.isNaN(s)) throw new ShapeError('scores: NaN');
  const n = scores.length;
  // a tiny tolerance so that e.g. (n+1)(1-alpha) = 95.00000000000001 does not round up to 96
  const k = Math.ceil((n + 1) * (1 - alpha) - 1e-9);
  if (k > n) return Infinity;
  return [...scores].sort((a, b) => a - b)[k - 1]!;
}

/**
 * Calibrate on held-out probabilities [N x C] and true labels. A calibration set whose labels are all one
 * class is a ConfigError (its threshold would say nothing about the others).
 * @example calibrateConformal([[0.9, 0.1], [0.2, 0.8]], [0, 1], { method: 'lac', alpha: 0.4 }).qhat // 0.2
 */
export function calibrateConformal(probs: MatrixLike, labels: ArrayLike<number>, opts: { method: ConformalMethod; alpha: number; seed?: number }): ConformalCalibration {
  const p = asMatrix(probs, 'calibration probabilities');
  assertLabels(labels, p.cols, 'calibration labels', p.rows);
  if (new Set(Array.from(labels)).size < 2) throw new ConfigError(`calibration labels: all ${p.rows} examples are class ${labels[0]}; a calibration set needs at least two classes`);
  const scores = conformalScores(p, labels, opts.method, mulberry32(opts.seed ?? 0));
  return { method: opts.method, alpha: opts.alpha, n: p.rows, qhat: conformalQuantile(scores, opts.alpha) };
}

/**
 * Prediction sets (class indices, most probable first) for test probabilities [M x C].
 * aps-randomized draws one u per example from `seed` and may return an empty set, as in Romano et al.
 * @example predictionSets([[0.6, 0.3, 0.1]], { method: 'lac', alpha: 0.1, n: 100, qhat: 0.75 }) // [[0, 1]]
 */
export function predictionSets(probs: MatrixLike, cal: ConformalCalibration, seed = 1): number[][] {
  const p = asMatrix(probs, 'test probabilities');
  checkProbs(p, 'test probabilities');
  const rng = mulberry32(seed);
  const out: number[][] = [];
  for (let i = 0; i < p.rows; i++) {
    const r = row(p, i);
    const u = cal.method === 'aps-randomized' ? rng() : 1;
    const set: number[] = [];
    for (let y = 0; y < p.cols; y++) if (score(r, y, cal.method, u) <= cal.qhat) set.push(y);
    set.sort((a, b) => r[b]! - r[a]! || a - b);
    out.push(set);
  }
  return out;
}

/**
 * Fraction of sets containing the true label, and the mean set size.
 * @example setCoverage([[0, 1], [2]], [1, 0]) // { coverage: 0.5, meanSize: 1.5 }
 */
export function setCoverage(sets: readonly (readonly number[])[], labels: ArrayLike<number>): { coverage: number; meanSize: number } {
  if (sets.length !== labels.length) throw new ShapeError(`setCoverage: ${sets.length} sets for ${labels.length} labels`);
  if (sets.length === 0) throw new ShapeError('setCoverage: no sets');
  let hit = 0;
  let size = 0;
  sets.forEach((s, i) => {
    if (s.includes(labels[i]!)) hit++;
    size += s.length;
  });
  return { coverage: hit / sets.length, meanSize: size / sets.length };
}
