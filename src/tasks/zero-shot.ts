// Zero-shot classification from text embeddings, after open_clip's zero_shot_classifier.py
// (build_zero_shot_classifier): for each class, L2-normalise every template embedding, average, renormalise,
// and stack the class vectors into a [D x C] matrix; an image's logits are one product with it.
// Scoring is data: softmax (CLIP), sigmoid with a bias (SigLIP, Zhai et al. 2023), or CheXzero's
// positive/negative pair (Tiu et al. 2022): per label, softmax over the logits of "{label}" and "no {label}";
// CheXzero's evaluation takes that softmax over the raw cosine similarities, i.e. logitScale 1 in its spec.
import { ConfigError, ShapeError } from '../errors.ts';
import type { GlobalLocalClassifier, GlobalLocalScoring } from './local-alignment.ts';
import { asMatrix, matmul, normalizeRows, softmaxRows, type Matrix, type MatrixLike } from './matrix.ts';

export type Scoring =
  | { kind: 'softmax'; logitScale: number }
  | { kind: 'sigmoid'; logitScale: number; logitBias: number }
  | { kind: 'pos-neg'; logitScale: number };

export interface ZeroShotClassifier {
  labels: string[];
  /** [D x C]: column c is the unit class vector of labels[c]. */
  weights: Matrix;
  /** [D x C]: column c is the unit vector of the negative prompts for labels[c] (pos-neg scoring). */
  negativeWeights?: Matrix;
  /**
   * GLoRIA's global + local scoring (src/tasks/local-alignment.ts): every prompt's global and word embeddings,
   * which need the images' region embeddings too (src/pipeline/global-local.ts scores rasters with them)
   */
  local?: GlobalLocalClassifier & { scoring: GlobalLocalScoring };
}

export interface ZeroShotResult {
  /** [N x C] scaled (and, for sigmoid, biased) logits; for pos-neg, positive-minus-negative logits. */
  logits: Matrix;
  /** [N x C] probabilities: rows sum to 1 for softmax; independent per label for sigmoid and pos-neg. */
  probs: Matrix;
}

/**
 * Average of unit template embeddings, renormalised, per class, stacked into [D x C]. Without renormalising
 * (MedCLIP's PromptClassifier with ensemble=True), a class's logit is the mean of its prompts' logits.
 */
function classVectors(perClass: readonly MatrixLike[], name: string, renormalize = true): Matrix {
  if (perClass.length === 0) throw new ShapeError(`${name}: expected embeddings for at least one class, got none`);
  const first = asMatrix(perClass[0]!, `${name}[0]`);
  const d = first.cols;
  const c = perClass.length;
  const out = new Float32Array(d * c); // [D x C]
  perClass.forEach((emb, k) => {
    const unit = normalizeRows(asMatrix(emb, `${name}[${k}]`, d), `${name}[${k}]`); // [T x D]
    const mean = new Float64Array(d);
    for (let t = 0; t < unit.rows; t++) for (let j = 0; j < d; j++) mean[j]! += unit.data[t * d + j]!;
    let n = 0;
    for (let j = 0; j < d; j++) n += mean[j]! * mean[j]!;
    n = renormalize ? Math.sqrt(n) : n === 0 ? 0 : unit.rows;
    if (n === 0) throw new ShapeError(`${name}[${k}]: template embeddings cancel out (mean has zero norm)`);
    for (let j = 0; j < d; j++) out[j * c + k] = mean[j]! / n;
  });
  return { rows: d, cols: c, data: out };
}

/**
 * Build a classifier from per-class template embeddings: perClass[c] is [T_c x D] (one row per template).
 * For pos-neg scoring pass the negative prompts' embeddings too, in the same class order. `ensemble:
 * 'mean-logits'` keeps each class vector the plain mean of its unit prompt embeddings, so that its logit is the mean
 * of the prompts' logits (MedCLIP); the default renormalises it (open_clip).
 * @example buildZeroShotClassifier(['a', 'b'], [[[1, 0]], [[0, 2]]]).weights // { rows: 2, cols: 2, data: [1, 0, 0, 1] }
 */
export function buildZeroShotClassifier(
  labels: readonly string[],
  perClass: readonly MatrixLike[],
  negativePerClass?: readonly MatrixLike[],
  options: { ensemble?: 'renormalized-mean' | 'mean-logits' } = {},
): ZeroShotClassifier {
  if (labels.length !== perClass.length) throw new ShapeError(`zero-shot classifier: ${labels.length} labels but embeddings for ${perClass.length} classes`);
  const weights = classVectors(perClass, 'class embeddings', options.ensemble !== 'mean-logits');
  const out: ZeroShotClassifier = { labels: [...labels], weights };
  if (negativePerClass) {
    if (negativePerClass.length !== labels.length) throw new ShapeError(`zero-shot classifier: ${labels.length} labels but negative embeddings for ${negativePerClass.length} classes`);
    const neg = classVectors(negativePerClass, 'negative class embeddings');
    if (neg.rows !== weights.rows) throw new ShapeError(`zero-shot classifier: negative embeddings have D=${neg.rows}, positive D=${weights.rows}`);
    out.negativeWeights = neg;
  }
  return out;
}

function checkScoring(s: Scoring): void {
  if (!Number.isFinite(s.logitScale) || s.logitScale <= 0) throw new ConfigError(`scoring.logitScale: expected a positive finite number, got ${s.logitScale}`);
  if (s.kind === 'sigmoid' && !Number.isFinite(s.logitBias)) throw new ConfigError(`scoring.logitBias: expected a finite number, got ${s.logitBias}`);
  if (!['softmax', 'sigmoid', 'pos-neg'].includes(s.kind)) throw new ConfigError(`scoring.kind '${(s as { kind: string }).kind}': expected softmax, sigmoid or pos-neg`);
}

/**
 * Score images [N x D] against a classifier. Image embeddings are L2-normalised first, so logits are
 * logitScale times cosine similarities (open_clip's logits_per_image for softmax scoring).
 * @example classifyZeroShot([[1, 0]], buildZeroShotClassifier(['a', 'b'], [[[1, 0]], [[0, 1]]]), { kind: 'softmax', logitScale: 1 }).probs.data // [0.731, 0.269]
 */
export function classifyZeroShot(images: MatrixLike, classifier: ZeroShotClassifier, scoring: Scoring): ZeroShotResult {
  checkScoring(scoring);
  if (classifier.local) {
    throw new ConfigError("this classifier scores with GLoRIA's global + local similarity, which needs the images' region embeddings: classify rasters (classifyRasters) or call globalLocalScores, not global embeddings alone");
  }
  const w = classifier.weights;
  const x = normalizeRows(asMatrix(images, 'image embeddings', w.rows), 'image embeddings'); // [N x D]
  const cos = matmul(x, w); // [N x C]
  const n = cos.rows;
  const c = cos.cols;
  if (scoring.kind === 'softmax') {
    const logits = { rows: n, cols: c, data: cos.data.map((v) => v * scoring.logitScale) };
    return { logits, probs: softmaxRows(logits) };
  }
  if (scoring.kind === 'sigmoid') {
    const logits = { rows: n, cols: c, data: cos.data.map((v) => v * scoring.logitScale + scoring.logitBias) };
    return { logits, probs: { rows: n, cols: c, data: logits.data.map((z) => 1 / (1 + Math.exp(-z))) } };
  }
  if (!classifier.negativeWeights) throw new ConfigError(`scoring 'pos-neg' needs a classifier built with negative prompt embeddings`);
  const negCos = matmul(x, classifier.negativeWeights); // [N x C]
  // softmax over the pair (pos, neg) equals sigmoid(pos - neg)
  const logits = { rows: n, cols: c, data: cos.data.map((v, i) => scoring.logitScale * (v - negCos.data[i]!)) };
  return { logits, probs: { rows: n, cols: c, data: logits.data.map((z) => 1 / (1 + Math.exp(-z))) } };
}

/**
 * Labels whose probability reaches the threshold, per image (multi-label output), most probable first.
 * @example predictLabels({ labels: ['a', 'b'], probs: { rows: 1, cols: 2, data: Float32Array.of(0.7, 0.2) } }, 0.5) // [['a']]
 */
export function predictLabels(result: { labels: readonly string[]; probs: Matrix }, threshold: number): string[][] {
  if (!(threshold >= 0 && threshold <= 1)) throw new ConfigError(`threshold: expected a number in [0, 1], got ${threshold}`);
  const { probs, labels } = result;
  if (labels.length !== probs.cols) throw new ShapeError(`predictLabels: ${labels.length} labels for ${probs.cols} probability columns`);
  const out: string[][] = [];
  for (let i = 0; i < probs.rows; i++) {
    const idx: number[] = [];
    for (let j = 0; j < probs.cols; j++) if (probs.data[i * probs.cols + j]! >= threshold) idx.push(j);
    idx.sort((a, b) => probs.data[i * probs.cols + b]! - probs.data[i * probs.cols + a]!);
    out.push(idx.map((j) => labels[j]!));
  }
  return out;
}
