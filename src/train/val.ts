// Validation metrics on normalised features, as open_clip `training/train.py` get_clip_metrics reports them:
// the contrastive loss over the whole validation set (CLIP's for --loss medclip and the global part of --loss gloria) and retrieval recall@1/5/10 in both directions (the
// pair on the same row is the match).
import { rocAuc } from '../eval/metrics.ts';
import type { FloatArray } from './optim.ts';
import type { LossKind } from './train-graph.ts';

export interface ContrastiveMetrics {
  val_loss: number;
  image_to_text_R1: number;
  image_to_text_R5: number;
  image_to_text_R10: number;
  text_to_image_R1: number;
  text_to_image_R5: number;
  text_to_image_R10: number;
}

/**
 * Loss and recalls of n pairs of normalised features ([n, dim] each).
 * @example contrastiveMetrics(Float32Array.of(1, 0, 0, 1), Float32Array.of(1, 0, 0, 1), 2, 10, 0, 'clip').image_to_text_R1 // 1
 */
export function contrastiveMetrics(img: FloatArray, txt: FloatArray, dim: number, scale: number, bias: number, loss: LossKind): ContrastiveMetrics {
  const n = img.length / dim;
  const logits = new Float64Array(n * n); // [images, texts]
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += img[i * dim + k]! * txt[j * dim + k]!;
      logits[i * n + j] = scale * s;
    }
  }
  let total = 0;
  if (loss !== 'siglip') {
    const ce = (get: (a: number, b: number) => number) => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        let mx = -Infinity;
        for (let j = 0; j < n; j++) mx = Math.max(mx, get(i, j));
        let z = 0;
        for (let j = 0; j < n; j++) z += Math.exp(get(i, j) - mx);
        sum += mx + Math.log(z) - get(i, i);
      }
      return sum / n;
    };
    total = (ce((i, j) => logits[i * n + j]!) + ce((i, j) => logits[j * n + i]!)) / 2;
  } else {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const z = (i === j ? 1 : -1) * (logits[i * n + j]! + bias);
        total -= Math.min(z, 0) - Math.log1p(Math.exp(-Math.abs(z)));
      }
    }
    total /= n;
  }
  const recall = (get: (a: number, b: number) => number, k: number) => {
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const own = get(i, i);
      let rank = 0;
      // the rank a stable descending sort gives (open_clip ranks with argsort): ties before i count as ahead
      for (let j = 0; j < n; j++) if (j !== i && (get(i, j) > own || (j < i && get(i, j) === own))) rank++;
      if (rank < k) hits++;
    }
    return hits / n;
  };
  const i2t = (a: number, b: number) => logits[a * n + b]!;
  const t2i = (a: number, b: number) => logits[b * n + a]!;
  return {
    val_loss: total,
    image_to_text_R1: recall(i2t, 1),
    image_to_text_R5: recall(i2t, 5),
    image_to_text_R10: recall(i2t, 10),
    text_to_image_R1: recall(t2i, 1),
    text_to_image_R5: recall(t2i, 5),
    text_to_image_R10: recall(t2i, 10),
  };
}

/**
 * Macro one-vs-rest AUROC of zero-shot scores: image features [n, dim] against class prompt features
 * [classes, dim] (both normalised), scored by cosine; `truth` holds each image's class index.
 */
export function zeroShotAuroc(img: FloatArray, prompts: FloatArray, dim: number, truth: number[], classes: number): number {
  const n = truth.length;
  let sum = 0;
  let counted = 0;
  for (let c = 0; c < classes; c++) {
    const y = truth.map((t) => (t === c ? 1 : 0));
    if (y.every((v) => v === y[0])) continue;
    const scores = Array.from({ length: n }, (_, i) => {
      // the class's cosine minus the best other class's: ranks as the softmax probability of c does for 2 classes
      const cos = (k: number) => {
        let s = 0;
        for (let d = 0; d < dim; d++) s += img[i * dim + d]! * prompts[k * dim + d]!;
        return s;
      };
      let other = -Infinity;
      for (let k = 0; k < classes; k++) if (k !== c) other = Math.max(other, cos(k));
      return cos(c) - other;
    });
    sum += rocAuc(scores, y);
    counted++;
  }
  return counted ? sum / counted : NaN;
}
