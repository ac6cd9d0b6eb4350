// Cross-modal retrieval on embeddings: cosine similarity matrices, top-k, and the standard image→text /
// text→image evaluation (recall@K and median rank of the first correct item, as in CLIP's and the
// medical CLIP papers' retrieval tables), where a query may have several correct items.
import { ConfigError, ShapeError } from '../errors.ts';
import { firstRelevantRanks, recallAtK } from '../eval/metrics.ts';
import { asMatrix, matmulTransB, normalizeRows, row, type Matrix, type MatrixLike } from './matrix.ts';

/**
 * Cosine similarity [N x M] between the rows of a [N x D] and b [M x D].
 * @example similarityMatrix([[1, 0]], [[2, 0], [0, 1]]).data // [1, 0]
 */
export function similarityMatrix(a: MatrixLike, b: MatrixLike): Matrix {
  const x = normalizeRows(asMatrix(a, 'queries'), 'queries');
  const y = normalizeRows(asMatrix(b, 'gallery', x.cols), 'gallery');
  return matmulTransB(x, y);
}

/**
 * The k largest entries of a vector, highest first (ties: lower index first).
 * @example topK([0.1, 0.9, 0.5], 2) // [{ index: 1, score: 0.9 }, { index: 2, score: 0.5 }]
 */
export function topK(scores: ArrayLike<number>, k: number): { index: number; score: number }[] {
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`k: expected a positive integer, got ${k}`);
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, k).map((i) => ({ index: i, score: scores[i]! }));
}

export interface RetrievalMetrics {
  recall: Record<number, number>;
  medianRank: number;
}

/**
 * Recall@K and median rank (of each query's best-ranked relevant item) from a similarity matrix [Q x G].
 * @example retrievalMetrics({ rows: 2, cols: 2, data: Float32Array.of(0.9, 0.1, 0.8, 0.2) }, [[0], [1]], [1]) // { recall: { 1: 0.5 }, medianRank: 1.5 }
 */
export function retrievalMetrics(sim: Matrix, relevant: readonly (readonly number[])[], ks: readonly number[] = [1, 5, 10]): RetrievalMetrics {
  const ranks = firstRelevantRanks(sim, relevant).sort((a, b) => a - b);
  const m = ranks.length;
  const medianRank = m % 2 ? ranks[(m - 1) / 2]! : (ranks[m / 2 - 1]! + ranks[m / 2]!) / 2;
  return { recall: Object.fromEntries(ks.map((k) => [k, recallAtK(sim, relevant, k)])), medianRank };
}

/**
 * Image→text and text→image recall@K and median rank. imageToText[i] lists the texts that describe
 * image i (at least one); the reverse relation is derived, and every text must describe some image.
 * @example evaluateRetrieval([[1, 0], [0, 1]], [[1, 0], [0, 1]], [[0], [1]]).imageToText.recall[1] // 1
 */
export function evaluateRetrieval(
  images: MatrixLike, texts: MatrixLike, imageToText: readonly (readonly number[])[], ks: readonly number[] = [1, 5, 10],
): { imageToText: RetrievalMetrics; textToImage: RetrievalMetrics } {
  const sim = similarityMatrix(images, texts); // [I x T]
  if (imageToText.length !== sim.rows) throw new ShapeError(`retrieval: ${imageToText.length} relevance lists for ${sim.rows} images`);
  const t2i: number[][] = Array.from({ length: sim.cols }, () => []);
  imageToText.forEach((ts, i) => ts.forEach((t) => {
    if (!Number.isInteger(t) || t < 0 || t >= sim.cols) throw new ShapeError(`retrieval: image ${i} names text ${t}, expected an index in [0, ${sim.cols})`);
    t2i[t]!.push(i);
  }));
  const orphan = t2i.findIndex((l) => l.length === 0);
  if (orphan >= 0) throw new ShapeError(`retrieval: text ${orphan} describes no image`);
  const simT: Matrix = { rows: sim.cols, cols: sim.rows, data: new Float32Array(sim.data.length) };
  for (let i = 0; i < sim.rows; i++) for (let t = 0; t < sim.cols; t++) simT.data[t * sim.rows + i] = sim.data[i * sim.cols + t]!;
  return { imageToText: retrievalMetrics(sim, imageToText, ks), textToImage: retrievalMetrics(simT, t2i, ks) };
}

/**
 * Top-k gallery items per query row of a similarity matrix [Q x G].
 * @example topKPerRow({ rows: 1, cols: 3, data: Float32Array.of(0.1, 0.9, 0.5) }, 1) // [[{ index: 1, score: 0.9 }]]
 */
export function topKPerRow(sim: Matrix, k: number): { index: number; score: number }[][] {
  return Array.from({ length: sim.rows }, (_, i) => topK(row(sim, i), Math.min(k, sim.cols)));
}
