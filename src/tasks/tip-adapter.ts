// Tip-Adapter (Zhang et al. 2022, "Tip-Adapter: Training-free Adaption of CLIP for Few-shot
// Classification", ECCV): a key-value cache built from the few-shot set, no training. Keys are the
// L2-normalised few-shot image features [N x D], values their one-hot labels [N x C]. For a test feature f
// (normalised), the affinities are A = exp(-beta * (1 - f K^T)) and the logits are alpha * A V plus the
// zero-shot CLIP logits. alpha and beta can be searched on a validation set, as the paper does.
import { ConfigError, ShapeError } from '../errors.ts';
import { asMatrix, assertLabels, matmulTransB, normalizeRows, toRows, type Matrix, type MatrixLike } from './matrix.ts';

export interface TipAdapterJSON {
  kind: 'tip-adapter';
  version: 1;
  classes: string[];
  alpha: number;
  beta: number;
  /** [N x D] normalised keys. */
  keys: number[][];
  /** [N] class index of each key (the one-hot values). */
  labels: number[];
}

export class TipAdapter {
  constructor(
    readonly classes: string[],
    /** [N x D], unit rows. */
    readonly keys: Matrix,
    readonly labels: readonly number[],
    readonly alpha: number,
    readonly beta: number,
  ) {}

  /** The cache term alpha * A V: [M x C] for test features [M x D]. */
  cacheLogits(features: MatrixLike, alpha = this.alpha, beta = this.beta): Matrix {
    const f = normalizeRows(asMatrix(features, 'test features', this.keys.cols), 'test features');
    const aff = matmulTransB(f, this.keys); // [M x N] cosine
    const c = this.classes.length;
    const out = new Float32Array(f.rows * c);
    for (let i = 0; i < f.rows; i++) {
      for (let n = 0; n < this.keys.rows; n++) {
        // A V with V one-hot: add each key's affinity to its class
        out[i * c + this.labels[n]!]! += alpha * Math.exp(-beta * (1 - aff.data[i * this.keys.rows + n]!));
      }
    }
    return { rows: f.rows, cols: c, data: out };
  }

  /**
   * Tip-Adapter logits [M x C]: cache logits plus the given zero-shot logits [M x C].
   * @example buildTipAdapter([[1, 0], [0, 1]], [0, 1], ['a', 'b']).logits([[1, 0]], [[0, 0]]).data // [1, 0.0041]
   */
  logits(features: MatrixLike, clipLogits: MatrixLike): Matrix {
    const cache = this.cacheLogits(features);
    const z = asMatrix(clipLogits, 'zero-shot logits', cache.cols);
    if (z.rows !== cache.rows) throw new ShapeError(`zero-shot logits: ${z.rows} rows for ${cache.rows} features`);
    return { rows: z.rows, cols: z.cols, data: cache.data.map((v, i) => v + z.data[i]!) };
  }

  toJSON(): TipAdapterJSON {
    return { kind: 'tip-adapter', version: 1, classes: [...this.classes], alpha: this.alpha, beta: this.beta, keys: toRows(this.keys), labels: [...this.labels] };
  }

  /** Rebuild a saved adapter; a wrong kind, version or shape is a ConfigError / ShapeError. */
  static fromJSON(json: unknown): TipAdapter {
    const j = json as Partial<TipAdapterJSON>;
    if (!j || j.kind !== 'tip-adapter' || j.version !== 1) throw new ConfigError(`Tip-Adapter JSON: expected kind 'tip-adapter' version 1, got kind ${String(j?.kind)} version ${String(j?.version)}`);
    return buildTipAdapter(j.keys ?? [], j.labels ?? [], j.classes ?? [], { alpha: Number(j.alpha), beta: Number(j.beta) });
  }
}

/**
 * Build the cache from few-shot features [N x D] and labels. Defaults alpha = 1, beta = 5.5 (the paper's ImageNet values).
 * @example buildTipAdapter([[2, 0], [0, 3]], [0, 1], ['a', 'b']).keys.data // [1, 0, 0, 1]
 */
export function buildTipAdapter(features: MatrixLike, labels: ArrayLike<number>, classes: readonly string[], opts: { alpha?: number; beta?: number } = {}): TipAdapter {
  const alpha = opts.alpha ?? 1;
  const beta = opts.beta ?? 5.5;
  if (!Number.isFinite(alpha) || alpha < 0) throw new ConfigError(`alpha: expected a non-negative finite number, got ${alpha}`);
  if (!Number.isFinite(beta) || beta < 0) throw new ConfigError(`beta: expected a non-negative finite number, got ${beta}`);
  if (classes.length < 2) throw new ConfigError(`classes: Tip-Adapter needs at least two classes, got ${classes.length}`);
  const keys = normalizeRows(asMatrix(features, 'few-shot features'), 'few-shot features');
  assertLabels(labels, classes.length, 'few-shot labels', keys.rows);
  return new TipAdapter([...classes], keys, Array.from(labels), alpha, beta);
}

/**
 * Search alpha and beta on a validation set (accuracy), returning the adapter with the best pair (first
 * best in grid order). Default grids follow the paper's ranges: alpha in 0.1..10, beta in 0.5..10.
 * @example searchTipAdapter(buildTipAdapter([[1, 0], [0, 1]], [0, 1], ['a', 'b']), [[0.9, 0.1], [0.1, 0.9]], [[0, 1], [0, 1]], [0, 1], { alphas: [0.5, 2], betas: [1, 5] }).alpha // 2
 */
export function searchTipAdapter(
  adapter: TipAdapter, valFeatures: MatrixLike, valClipLogits: MatrixLike, valLabels: ArrayLike<number>,
  opts: { alphas?: readonly number[]; betas?: readonly number[] } = {},
): { adapter: TipAdapter; alpha: number; beta: number; accuracy: number } {
  const alphas = opts.alphas ?? [0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10];
  const betas = opts.betas ?? [0.5, 1, 2, 3, 4, 5.5, 7, 8.5, 10];
  const z = asMatrix(valClipLogits, 'validation zero-shot logits', adapter.classes.length);
  assertLabels(valLabels, adapter.classes.length, 'validation labels', z.rows);
  let best = { alpha: adapter.alpha, beta: adapter.beta, accuracy: -1 };
  for (const beta of betas) {
    const unit = adapter.cacheLogits(valFeatures, 1, beta); // linear in alpha: compute once per beta
    if (unit.rows !== z.rows) throw new ShapeError(`validation: ${unit.rows} features for ${z.rows} logit rows`);
    for (const alpha of alphas) {
      let correct = 0;
      for (let i = 0; i < z.rows; i++) {
        let bj = 0;
        let bv = -Infinity;
        for (let j = 0; j < z.cols; j++) {
          const v = alpha * unit.data[i * z.cols + j]! + z.data[i * z.cols + j]!;
          if (v > bv) { bv = v; bj = j; }
        }
        if (bj === valLabels[i]) correct++;
      }
      const acc = correct / z.rows;
      if (acc > best.accuracy) best = { alpha, beta, accuracy: acc };
    }
  }
  const tuned = new TipAdapter(adapter.classes, adapter.keys, adapter.labels, best.alpha, best.beta);
  return { adapter: tuned, ...best };
}
