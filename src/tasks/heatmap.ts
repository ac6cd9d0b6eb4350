// Patch-text similarity heatmaps. Each projected patch token is compared (cosine) with each prompt's text
// embedding, giving one [gh x gw] map per prompt. Raw CLIP patch maps look alike whatever the prompt,
// because a large shared component dominates them; following CLIP Surgery (Li et al. 2023, "CLIP Surgery
// for Better Explainability with Enhancement in Open-Vocabulary Tasks", feature-redundancy removal) we
// subtract the mean map over a set of prompts before min-max normalising. Upsampling is bilinear with
// PyTorch F.interpolate(mode='bilinear', align_corners=False) semantics; the overlay blends a jet-like
// colour map onto the grey image, as RGB bytes for the caller to encode.
import { ConfigError, ShapeError } from '../errors.ts';
import { asMatrix, matmulTransB, normalizeRows, type Matrix, type MatrixLike } from './matrix.ts';

/**
 * Cosine maps [T x P] of patch tokens [P x D] (P = gh * gw, row-major over the grid) against prompts [T x D].
 * @example patchSimilarity([[1, 0], [0, 1]], [[1, 0]], 1, 2).data // [1, 0]
 */
export function patchSimilarity(patchTokens: MatrixLike, texts: MatrixLike, gh: number, gw: number): Matrix {
  const p = asMatrix(patchTokens, 'patch tokens');
  if (!Number.isInteger(gh) || !Number.isInteger(gw) || gh < 1 || gw < 1) throw new ConfigError(`grid: expected positive integers, got ${gh} x ${gw}`);
  if (p.rows !== gh * gw) throw new ShapeError(`patch tokens: ${p.rows} rows for a ${gh} x ${gw} grid (${gh * gw})`);
  const t = asMatrix(texts, 'text embeddings', p.cols);
  return matmulTransB(normalizeRows(t, 'text embeddings'), normalizeRows(p, 'patch tokens')); // [T x P]
}

/**
 * Subtract, at each patch, the mean over all prompts (CLIP Surgery's redundancy removal); needs >= 2 prompts.
 * @example removeSharedComponent({ rows: 2, cols: 1, data: Float32Array.of(0.9, 0.7) }).data // [0.1, -0.1]
 */
export function removeSharedComponent(maps: Matrix): Matrix {
  if (maps.rows < 2) throw new ConfigError(`redundancy removal needs at least two prompts, got ${maps.rows}: with one, every map would be zero`);
  const out = new Float32Array(maps.data.length);
  for (let j = 0; j < maps.cols; j++) {
    let s = 0;
    for (let i = 0; i < maps.rows; i++) s += maps.data[i * maps.cols + j]!;
    const mean = s / maps.rows;
    for (let i = 0; i < maps.rows; i++) out[i * maps.cols + j] = maps.data[i * maps.cols + j]! - mean;
  }
  return { rows: maps.rows, cols: maps.cols, data: out };
}

/**
 * Scale each map (row) to [0, 1]. A constant map has no contrast and becomes all zeros (reported by `flat`).
 * @example minMaxNormalize({ rows: 1, cols: 3, data: Float32Array.of(2, 4, 3) }).maps.data // [0, 1, 0.5]
 */
export function minMaxNormalize(maps: Matrix): { maps: Matrix; flat: boolean[] } {
  const out = new Float32Array(maps.data.length);
  const flat: boolean[] = [];
  for (let i = 0; i < maps.rows; i++) {
    const r = maps.data.subarray(i * maps.cols, (i + 1) * maps.cols);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of r) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    flat.push(hi === lo);
    for (let j = 0; j < maps.cols; j++) out[i * maps.cols + j] = hi === lo ? 0 : (r[j]! - lo) / (hi - lo);
  }
  return { maps: { rows: maps.rows, cols: maps.cols, data: out }, flat };
}

/**
 * Heatmaps in [0, 1], one per prompt [T x P]: cosine maps, minus the mean over the prompts, min-max normalised.
 * @example promptHeatmaps([[1, 0], [0, 1]], [[1, 0], [0, 1]], 1, 2).maps.data // [1, 0, 0, 1]
 */
export function promptHeatmaps(patchTokens: MatrixLike, texts: MatrixLike, gh: number, gw: number): { maps: Matrix; flat: boolean[] } {
  return minMaxNormalize(removeSharedComponent(patchSimilarity(patchTokens, texts, gh, gw)));
}

/**
 * Bilinear resize of one [h x w] map to [outH x outW], as F.interpolate(mode='bilinear', align_corners=False).
 * @example upsampleBilinear(Float32Array.of(0, 1), 1, 2, 1, 4) // [0, 0.25, 0.75, 1]
 */
export function upsampleBilinear(map: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  if (map.length !== h * w) throw new ShapeError(`map: ${map.length} values for ${h} x ${w}`);
  for (const [n, v] of [['outH', outH], ['outW', outW]] as const) if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${n}: expected a positive integer, got ${v}`);
  const out = new Float32Array(outH * outW);
  // source coordinate of output pixel centre: (o + 0.5) * in/out - 0.5, clamped at 0 as PyTorch does
  const coords = (o: number, inSize: number, outSize: number) => {
    const src = Math.max(0, (o + 0.5) * (inSize / outSize) - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return { i0, i1, t: src - i0 };
  };
  const xs = Array.from({ length: outW }, (_, x) => coords(x, w, outW));
  for (let y = 0; y < outH; y++) {
    const cy = coords(y, h, outH);
    for (let x = 0; x < outW; x++) {
      const cx = xs[x]!;
      const top = map[cy.i0 * w + cx.i0]! * (1 - cx.t) + map[cy.i0 * w + cx.i1]! * cx.t;
      const bot = map[cy.i1 * w + cx.i0]! * (1 - cx.t) + map[cy.i1 * w + cx.i1]! * cx.t;
      out[y * outW + x] = top * (1 - cy.t) + bot * cy.t;
    }
  }
  return out;
}

/**
 * A jet-like colour for v in [0, 1]: blue → cyan → yellow → red.
 * @example jet(0.5) // [128, 255, 128]
 */
export function jet(v: number): [number, number, number] {
  const c = (x: number) => Math.round(255 * Math.min(1, Math.max(0, x)));
  const t = Math.min(1, Math.max(0, v));
  return [c(1.5 - Math.abs(4 * t - 3)), c(1.5 - Math.abs(4 * t - 2)), c(1.5 - Math.abs(4 * t - 1))];
}

/**
 * Blend a heatmap [H*W] in [0, 1] onto a grey image [H*W] (0..255): RGB bytes [H*W*3], alpha = heat weight.
 * @example overlayHeatmap(Uint8Array.of(100), Float32Array.of(1), 0.5) // Uint8Array [114, 50, 50]
 */
export function overlayHeatmap(grey: Uint8Array, heat: ArrayLike<number>, alpha = 0.5): Uint8Array {
  if (grey.length !== heat.length) throw new ShapeError(`overlay: grey image has ${grey.length} pixels, heatmap ${heat.length}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new ConfigError(`alpha: expected a number in [0, 1], got ${alpha}`);
  const out = new Uint8Array(grey.length * 3);
  for (let i = 0; i < grey.length; i++) {
    const h = heat[i]!;
    if (!Number.isFinite(h)) throw new ShapeError(`overlay: heat value ${h} at pixel ${i}`);
    const rgb = jet(h);
    for (let ch = 0; ch < 3; ch++) out[i * 3 + ch] = Math.round((1 - alpha) * grey[i]! + alpha * rgb[ch]!);
  }
  return out;
}
