// Slide-level zero-shot classification from tile scores, as MI-Zero (Lu et al. 2023, "Visual language
// pretrained multiple instance zero-shot transfer for histopathology images", CVPR): every tile is scored
// against the class prompts; per class, the K highest tile logits are averaged ("topk" pooling), and the
// pooled logits go through the model's own scoring (softmax for CLIP-style models).
import { ConfigError, ShapeError } from '../errors.ts';
import type { Matrix } from './matrix.ts';
import type { Scoring } from './zero-shot.ts';

export interface SlideScores {
  /** [C] mean of the top-K tile logits per class */
  pooled: Float32Array;
  /** [C] probabilities from the pooled logits */
  probs: Float32Array;
  /** K as used (at most the number of tiles) */
  k: number;
}

/**
 * Pool tile logits [N x C] into slide scores.
 * @example poolTopK({ rows: 3, cols: 2, data: Float32Array.of(1, 0, 3, 0, 2, 5) }, 2, { kind: 'softmax', logitScale: 1 }).pooled // [2.5, 2.5]
 */
export function poolTopK(tileLogits: Matrix, k: number, scoring: Scoring): SlideScores {
  const { rows: n, cols: c } = tileLogits;
  if (n === 0) throw new ShapeError('MI-Zero pooling: no tiles to pool');
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`top-K must be a positive integer, got ${k}`);
  if (scoring.kind === 'pos-neg') throw new ConfigError('MI-Zero pooling needs softmax or sigmoid scoring, not positive/negative pairs');
  const kk = Math.min(k, n);
  const pooled = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const col = Array.from({ length: n }, (_, i) => tileLogits.data[i * c + j]!).sort((a, b) => b - a);
    pooled[j] = col.slice(0, kk).reduce((s, v) => s + v, 0) / kk;
  }
  let probs: Float32Array;
  if (scoring.kind === 'softmax') {
    const m = Math.max(...pooled);
    const e = Array.from(pooled, (v) => Math.exp(v - m));
    const z = e.reduce((s, v) => s + v, 0);
    probs = Float32Array.from(e, (v) => v / z);
  } else probs = Float32Array.from(pooled, (v) => 1 / (1 + Math.exp(-v)));
  return { pooled, probs, k: kk };
}
