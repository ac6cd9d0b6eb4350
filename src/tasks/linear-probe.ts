// Linear probe: L2-regularised logistic regression on frozen embeddings, the evaluation of CLIP (Radford et
// al. 2021, Sec. 3.2 / App. A.3). The objective is scikit-learn's LogisticRegression with the lbfgs solver:
//   minimise  C * sum_i CE(softmax(W x_i + b), y_i) + ||W||^2 / 2     (b not penalised),
// multinomial for three or more classes and, as scikit-learn does for two classes, a single weight vector
// (logits [0, w·x + b]). C is chosen on a validation split over a logarithmic grid, as CLIP's sweep does.
import { ConfigError, ShapeError } from '../errors.ts';
import { minimizeLbfgs } from './lbfgs.ts';
import { asMatrix, assertFinite, assertLabels, row, toRows, type Matrix, type MatrixLike } from './matrix.ts';

export interface LinearProbeJSON {
  kind: 'linear-probe';
  version: 1;
  classes: string[];
  C: number;
  /** [R x D], R = 1 for two classes (weights of class 1 against class 0), else R = number of classes. */
  weights: number[][];
  bias: number[];
}

export class LinearProbe {
  constructor(
    readonly classes: string[],
    readonly C: number,
    /** [R x D] */
    readonly weights: Matrix,
    readonly bias: Float64Array,
  ) {}

  /**
   * Class probabilities [N x K] for features [N x D].
   * @example LinearProbe.fromJSON({ kind: 'linear-probe', version: 1, classes: ['a', 'b'], C: 1, weights: [[1]], bias: [0] }).predictProba([[0]]).data // [0.5, 0.5]
   */
  predictProba(features: MatrixLike): Matrix {
    const x = asMatrix(features, 'features', this.weights.cols);
    const k = this.classes.length;
    const out = new Float32Array(x.rows * k);
    const z = new Float64Array(k);
    for (let i = 0; i < x.rows; i++) {
      logitsInto(z, this.weights, this.bias, row(x, i), k);
      softmaxInPlace(z);
      for (let c = 0; c < k; c++) out[i * k + c] = z[c]!;
    }
    return { rows: x.rows, cols: k, data: out };
  }

  /** Most probable class index per row. */
  predict(features: MatrixLike): number[] {
    const p = this.predictProba(features);
    return Array.from({ length: p.rows }, (_, i) => argmax(row(p, i)));
  }

  toJSON(): LinearProbeJSON {
    return { kind: 'linear-probe', version: 1, classes: [...this.classes], C: this.C, weights: toRows(this.weights), bias: Array.from(this.bias) };
  }

  /** Rebuild a saved probe; a wrong kind, version or shape is a ConfigError / ShapeError. */
  static fromJSON(json: unknown): LinearProbe {
    const j = json as Partial<LinearProbeJSON>;
    if (!j || j.kind !== 'linear-probe' || j.version !== 1) throw new ConfigError(`linear probe JSON: expected kind 'linear-probe' version 1, got kind ${String(j?.kind)} version ${String(j?.version)}`);
    if (!Array.isArray(j.classes) || j.classes.length < 2) throw new ConfigError('linear probe JSON: expected at least two classes');
    if (!j.classes.every((c) => typeof c === 'string')) throw new ConfigError('linear probe JSON: class names must be strings');
    if (!(typeof j.C === 'number' && j.C > 0)) throw new ConfigError(`linear probe JSON: C must be a positive number, got ${String(j.C)}`);
    const r = j.classes.length === 2 ? 1 : j.classes.length;
    const w = asMatrix(j.weights ?? [], 'linear probe JSON weights');
    if (w.rows !== r) throw new ShapeError(`linear probe JSON: ${j.classes.length} classes need ${r} weight rows, got ${w.rows}`);
    if (!Array.isArray(j.bias) || j.bias.length !== r) throw new ShapeError(`linear probe JSON: expected ${r} biases, got ${j.bias?.length}`);
    assertFinite(j.bias, 'linear probe JSON bias');
    return new LinearProbe([...j.classes], j.C, w, Float64Array.from(j.bias));
  }
}

function argmax(v: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i;
  return b;
}

function softmaxInPlace(z: Float64Array): void {
  let mx = -Infinity;
  for (const v of z) mx = Math.max(mx, v);
  let s = 0;
  for (let i = 0; i < z.length; i++) { z[i] = Math.exp(z[i]! - mx); s += z[i]!; }
  for (let i = 0; i < z.length; i++) z[i]! /= s;
}

/** Full K logits for one sample; with one weight row (two classes) class 0 has logit 0. */
function logitsInto(z: Float64Array, w: { rows: number; cols: number; data: ArrayLike<number> }, b: ArrayLike<number>, x: ArrayLike<number>, k: number): void {
  const d = w.cols;
  const off = k === 2 ? 1 : 0;
  if (k === 2) z[0] = 0;
  for (let r = 0; r < w.rows; r++) {
    let s = b[r]!;
    for (let j = 0; j < d; j++) s += w.data[r * d + j]! * x[j]!;
    z[r + off] = s;
  }
}

/**
 * Fit on features [N x D] and integer labels in [0, K). Every class needs at least one example.
 * @example fitLinearProbe([[0], [1], [2], [3]], [0, 0, 1, 1], ['a', 'b'], { C: 1 }).predict([[0], [3]]) // [0, 1]
 */
export function fitLinearProbe(features: MatrixLike, labels: ArrayLike<number>, classes: readonly string[], opts: { C: number; maxIter?: number }): LinearProbe {
  const x = asMatrix(features, 'training features');
  const k = classes.length;
  if (k < 2) throw new ConfigError(`classes: a linear probe needs at least two classes, got ${k}`);
  const C = opts.C;
  if (!(C > 0) || !Number.isFinite(C)) throw new ConfigError(`C: expected a positive finite number, got ${C}`);
  assertLabels(labels, k, 'training labels', x.rows);
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  const missing = classes.filter((_, c) => counts[c] === 0);
  if (missing.length) throw new ShapeError(`training labels: no examples of class ${missing.map((m) => `'${m}'`).join(', ')}`);
  const n = x.rows;
  const d = x.cols;
  const r = k === 2 ? 1 : k;
  const off = k === 2 ? 1 : 0;
  const nw = r * d;
  const z = new Float64Array(k);
  // Parameters: [W (r x d) | b (r)]. The objective is divided by C*n for conditioning (same minimiser).
  const scale = 1 / (C * n);
  const fg = (p: Float64Array, g: Float64Array): number => {
    g.fill(0);
    const w = { rows: r, cols: d, data: p };
    const b = p.subarray(nw);
    let f = 0;
    for (let i = 0; i < n; i++) {
      const xi = row(x, i);
      logitsInto(z, w, b, xi, k);
      let mx = -Infinity;
      for (const v of z) mx = Math.max(mx, v);
      let s = 0;
      for (const v of z) s += Math.exp(v - mx);
      const y = labels[i]!;
      f += mx + Math.log(s) - z[y]!;
      for (let c = off; c < k; c++) {
        const gc = Math.exp(z[c]! - mx) / s - (c === y ? 1 : 0);
        const rr = c - off;
        for (let j = 0; j < d; j++) g[rr * d + j]! += gc * xi[j]!;
        g[nw + rr]! += gc;
      }
    }
    let pen = 0;
    for (let j = 0; j < nw; j++) { pen += p[j]! * p[j]!; g[j] = g[j]! / n + scale * p[j]!; }
    for (let j = nw; j < nw + r; j++) g[j] = g[j]! / n;
    return f / n + 0.5 * scale * pen;
  };
  const res = minimizeLbfgs(fg, new Float64Array(nw + r), { maxIter: opts.maxIter ?? 1000, gtol: 1e-9 });
  return new LinearProbe([...classes], C, { rows: r, cols: d, data: Float32Array.from(res.x.subarray(0, nw)) }, Float64Array.from(res.x.subarray(nw)));
}

/**
 * A logarithmic grid: `steps` values from 10^lo to 10^hi.
 * @example logGrid(-2, 2, 5) // [0.01, 0.1, 1, 10, 100]
 */
export function logGrid(lo: number, hi: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 2) throw new ConfigError(`steps: expected an integer >= 2, got ${steps}`);
  return Array.from({ length: steps }, (_, i) => 10 ** (lo + ((hi - lo) * i) / (steps - 1)));
}

/**
 * Choose C on a validation split (accuracy; the smallest C wins ties, i.e. the strongest regularisation),
 * then refit on train + validation with that C (set refit: false to keep the train-only model).
 * The default grid is 10^-6 .. 10^6, one value per decade; CLIP's sweep is finer (pass your own grid).
 * @example fitLinearProbeCV([[0], [1], [3], [4]], [0, 0, 1, 1], [[0.5], [3.5]], [0, 1], ['a', 'b'], { grid: [1e-4, 1] }).C // 0.0001 (both reach accuracy 1; the smaller C wins)
 */
export function fitLinearProbeCV(
  train: MatrixLike, trainLabels: ArrayLike<number>, val: MatrixLike, valLabels: ArrayLike<number>, classes: readonly string[],
  opts: { grid?: readonly number[]; refit?: boolean; maxIter?: number } = {},
): { model: LinearProbe; C: number; scores: { C: number; accuracy: number }[] } {
  const grid = [...(opts.grid ?? logGrid(-6, 6, 13))].sort((a, b) => a - b);
  if (grid.length === 0) throw new ConfigError('grid: expected at least one C');
  const xv = asMatrix(val, 'validation features');
  assertLabels(valLabels, classes.length, 'validation labels', xv.rows);
  const scores = grid.map((C) => {
    const m = fitLinearProbe(train, trainLabels, classes, { C, maxIter: opts.maxIter });
    const pred = m.predict(xv);
    return { C, accuracy: pred.filter((p, i) => p === valLabels[i]).length / pred.length, model: m };
  });
  let best = scores[0]!;
  for (const s of scores) if (s.accuracy > best.accuracy) best = s;
  let model = best.model;
  if (opts.refit ?? true) {
    const xt = asMatrix(train, 'training features', xv.cols);
    const all = { rows: xt.rows + xv.rows, cols: xt.cols, data: new Float32Array([...xt.data, ...xv.data]) };
    model = fitLinearProbe(all, [...Array.from(trainLabels), ...Array.from(valLabels)], classes, { C: best.C, maxIter: opts.maxIter });
  }
  return { model, C: best.C, scores: scores.map(({ C, accuracy }) => ({ C, accuracy })) };
}
