// Zero-shot scoring with global and local alignment, after GLoRIA (Huang et al., ICCV 2021; marshuang80/gloria
// `gloria/gloria.py` get_similarities / zero_shot_classification, `models/gloria_model.py`
// get_local_similarities, `loss/gloria_loss.py` attention_fn / cosine_similarity):
//   global(image, prompt) = cosine of the global embeddings;
//   local(image, prompt): each word attends over the image's regions (a softmax over the prompt's words for
//     each region, then, scaled by `attentionTemp`, a softmax over the regions for each word); the word's
//     attention-weighted region context is compared with the word by cosine; local = log(max over words of
//     exp(wordTemp * cosine)) = wordTemp * the largest word cosine;
//   similarity = (local + global) / 2; a class scores the largest similarity of its prompts.
// GLoRIA's zero_shot_classification then standardises each class's scores across the batch of images (when
// there is more than one): `standardizeColumns`. Pure functions on embeddings; which model uses this is data
// (a model spec's scoring kind 'global-local').
import { ConfigError, ShapeError } from '../errors.ts';
import type { Matrix } from './matrix.ts';

/** GLoRIA's temperatures: `attentionTemp` = temp1 (4), `wordTemp` = temp2 (5) of its config. */
export interface GlobalLocalScoring {
  kind: 'global-local';
  attentionTemp: number;
  wordTemp: number;
}

/** One prompt: its global embedding [D] and the word embeddings it is compared with, [words x D]. */
export interface PromptEmbedding {
  global: Float32Array;
  words: Float32Array;
}

/** One image: its global embedding [D] and its region embeddings, [regions x D]. */
export interface ImageEmbedding {
  global: Float32Array;
  regions: Float32Array;
}

export interface GlobalLocalClassifier {
  labels: string[];
  /** prompts[c]: the prompts of labels[c] */
  prompts: PromptEmbedding[][];
  dim: number;
}

/** sklearn's cosine_similarity of two vectors (a zero vector gives 0). */
function cosine(a: Float32Array, b: Float32Array, d: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < d; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa) / Math.sqrt(bb);
}

/** Softmax of `x[offset + k * stride]`, k < n, in place. */
function softmaxStrided(x: Float64Array, offset: number, n: number, stride: number): void {
  let max = -Infinity;
  for (let k = 0; k < n; k++) max = Math.max(max, x[offset + k * stride]!);
  let sum = 0;
  for (let k = 0; k < n; k++) sum += x[offset + k * stride] = Math.exp(x[offset + k * stride]! - max);
  for (let k = 0; k < n; k++) x[offset + k * stride]! /= sum;
}

/**
 * GLoRIA's local similarity of one image's regions [R x D] and one prompt's words [K x D].
 * @example localSimilarity(Float32Array.of(1, 0), Float32Array.of(1, 0), 2, { kind: 'global-local', attentionTemp: 4, wordTemp: 5 }) // 5
 */
export function localSimilarity(regions: Float32Array, words: Float32Array, dim: number, s: GlobalLocalScoring): number {
  const R = regions.length / dim;
  const K = words.length / dim;
  if (!Number.isInteger(R) || R === 0) throw new ShapeError(`regions: ${regions.length} values are not rows of ${dim}`);
  if (!Number.isInteger(K) || K === 0) throw new ShapeError(`words: ${words.length} values are not rows of ${dim} (a prompt needs at least one word)`);
  const attn = new Float64Array(R * K); // [R x K]: region . word
  for (let r = 0; r < R; r++) {
    for (let k = 0; k < K; k++) {
      let v = 0;
      for (let i = 0; i < dim; i++) v += regions[r * dim + i]! * words[k * dim + i]!;
      attn[r * K + k] = v;
    }
    softmaxStrided(attn, r * K, K, 1); // over the words, per region
  }
  for (let r = 0; r < R * K; r++) attn[r]! *= s.attentionTemp;
  for (let k = 0; k < K; k++) softmaxStrided(attn, k, R, K); // over the regions, per word
  let best = -Infinity;
  const context = new Float32Array(dim);
  for (let k = 0; k < K; k++) {
    context.fill(0);
    for (let r = 0; r < R; r++) {
      const a = attn[r * K + k]!;
      for (let i = 0; i < dim; i++) context[i]! += a * regions[r * dim + i]!;
    }
    // gloria_loss.cosine_similarity: w12 / clamp(|w| |c|, 1e-8)
    const w = words.subarray(k * dim, (k + 1) * dim);
    let wc = 0;
    let ww = 0;
    let cc = 0;
    for (let i = 0; i < dim; i++) {
      wc += w[i]! * context[i]!;
      ww += w[i]! * w[i]!;
      cc += context[i]! * context[i]!;
    }
    best = Math.max(best, wc / Math.max(Math.sqrt(ww) * Math.sqrt(cc), 1e-8));
  }
  return s.wordTemp * best; // log(max exp(wordTemp * cos))
}

/** GLoRIA's combined similarity of one image and one prompt: the mean of the local and the global one. */
export function globalLocalSimilarity(image: ImageEmbedding, prompt: PromptEmbedding, dim: number, s: GlobalLocalScoring): number {
  return (localSimilarity(image.regions, prompt.words, dim, s) + cosine(image.global, prompt.global, dim)) / 2;
}

function checkScoring(s: GlobalLocalScoring): void {
  for (const k of ['attentionTemp', 'wordTemp'] as const) {
    if (!Number.isFinite(s[k]) || s[k] <= 0) throw new ConfigError(`scoring.${k}: expected a positive finite number, got ${s[k]}`);
  }
}

/**
 * Class similarities [N x C]: for each image and class, the largest similarity of the class's prompts (GLoRIA's
 * zero_shot_classification before its normalisation across images).
 */
export function globalLocalScores(images: readonly ImageEmbedding[], classifier: GlobalLocalClassifier, s: GlobalLocalScoring): Matrix {
  checkScoring(s);
  const C = classifier.labels.length;
  if (classifier.prompts.length !== C) throw new ShapeError(`global-local classifier: ${C} labels but prompts for ${classifier.prompts.length} classes`);
  const data = new Float32Array(images.length * C);
  images.forEach((img, n) => {
    classifier.prompts.forEach((prompts, c) => {
      if (prompts.length === 0) throw new ShapeError(`global-local classifier: no prompts for '${classifier.labels[c]}'`);
      data[n * C + c] = Math.max(...prompts.map((p) => globalLocalSimilarity(img, p, classifier.dim, s)));
    });
  });
  return { rows: images.length, cols: C, data };
}

/**
 * GLoRIA's `utils.normalize(method='norm')` across images: each column minus its mean, over its population
 * standard deviation (numpy's default). GLoRIA applies it only when there is more than one image.
 * @example standardizeColumns({ rows: 2, cols: 1, data: Float32Array.of(1, 3) }).data // [-1, 1]
 */
export function standardizeColumns(m: Matrix): Matrix {
  if (m.rows < 2) throw new ShapeError(`standardizing across images needs at least two rows, got ${m.rows}`);
  const out = new Float32Array(m.data.length);
  for (let c = 0; c < m.cols; c++) {
    let mean = 0;
    for (let r = 0; r < m.rows; r++) mean += m.data[r * m.cols + c]!;
    mean /= m.rows;
    let v = 0;
    for (let r = 0; r < m.rows; r++) v += (m.data[r * m.cols + c]! - mean) ** 2;
    const sd = Math.sqrt(v / m.rows);
    for (let r = 0; r < m.rows; r++) out[r * m.cols + c] = (m.data[r * m.cols + c]! - mean) / sd;
  }
  return { rows: m.rows, cols: m.cols, data: out };
}
