// OpenCV's cv2.resize(..., interpolation=INTER_AREA) on 8-bit images (modules/imgproc/src/resize.cpp), which
// GLoRIA's preprocessing uses (gloria_model.py `_resize_img`):
// - shrinking by a whole factor in both directions: the mean of each factor x factor block, rounded;
// - shrinking otherwise: each output pixel the area-weighted mean of the source pixels its cell covers
//   (computeResizeAreaTab's weights), accumulated in float32 and rounded;
// - enlarging: linear interpolation whose weights come from the cell overlaps (sx = floor(dx * scale),
//   fx = (dx + 1) - (sx + 1) / scale, 0 when negative, else its fraction), in OpenCV's fixed point: weights times
//   2048, the horizontal pass exact in int32, the vertical one as its SSE2 code rounds ((S >> 4) * w >> 16 per
//   row, + 2 >> 2).
// Scales are OpenCV's: inv_scale = dsize / ssize and scale = 1 / inv_scale. Checked pixel for pixel against
// cv2 4.6 (test/fixtures/image/cv-area).
import { ConfigError } from '../errors.ts';
import type { Raster } from './types.ts';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

/** cvRound of a float: nearest, halves to even (as lrint does), clamped to 0..255. */
function round8(v: number): number {
  const r = Math.round(v);
  const even = Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return Math.min(255, Math.max(0, even));
}

/** Linear taps for enlarging with INTER_AREA's weights: source index and weight (x 2048) per output position. */
function enlargeTaps(inSize: number, outSize: number): { idx: Int32Array; w0: Int32Array; w1: Int32Array } {
  const inv = outSize / inSize; // cv::resize: inv_scale = dsize / ssize, scale = 1 / inv_scale (not ssize / dsize)
  const scale = 1 / inv;
  const idx = new Int32Array(outSize);
  const w0 = new Int32Array(outSize);
  const w1 = new Int32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    let s = Math.floor(d * scale);
    let f = Math.fround((d + 1) - (s + 1) * inv);
    f = f <= 0 ? 0 : Math.fround(f - Math.floor(f));
    if (s < 0) { s = 0; f = 0; }
    if (s >= inSize - 1) { s = inSize - 1; f = 0; }
    idx[d] = s;
    // saturate_cast<short>(cbuf[j] * INTER_RESIZE_COEF_SCALE): rounded to nearest
    w0[d] = Math.round(Math.fround(1 - f) * COEF_SCALE);
    w1[d] = Math.round(f * COEF_SCALE);
  }
  return { idx, w0, w1 };
}

function enlarge(r: Raster, width: number, height: number): Raster {
  const c = r.channels;
  const tx = enlargeTaps(r.width, width);
  const ty = enlargeTaps(r.height, height);
  // horizontal pass on every source row: int sums (src * weight)
  const rows = new Int32Array(r.height * width * c);
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < width; x++) {
      const s = tx.idx[x]!;
      const s1 = Math.min(s + 1, r.width - 1);
      for (let k = 0; k < c; k++) {
        const a = r.data[(y * r.width + s) * c + k]!;
        const b = r.data[(y * r.width + s1) * c + k]!;
        rows[(y * width + x) * c + k] = tx.w1[x] === 0 ? a * COEF_SCALE : a * tx.w0[x]! + b * tx.w1[x]!;
      }
    }
  }
  const out = new Uint8Array(width * height * c);
  const n = width * c;
  for (let y = 0; y < height; y++) {
    const s = ty.idx[y]!;
    const s1 = Math.min(s + 1, r.height - 1);
    const b0 = ty.w0[y]!;
    const b1 = ty.w1[y]!;
    for (let i = 0; i < n; i++) {
      const a = rows[s * n + i]!;
      const b = rows[s1 * n + i]!;
      // VResizeLinearVec_32s8u: ((a >> 4) * b0 >> 16) + ((b >> 4) * b1 >> 16), then + 2 >> 2 (every pixel of the
      // row, narrow rows and the tail included, as cv2 4.6 gives them), not the scalar (sum + 2^21) >> 22
      const v = ((((a >> 4) * b0) >> 16) + (((b >> 4) * b1) >> 16) + 2) >> 2;
      out[y * n + i] = Math.min(255, Math.max(0, v));
    }
  }
  return { width, height, channels: c, data: out };
}

/** computeResizeAreaTab: (source index, weight) pairs per output position. */
function areaTab(inSize: number, outSize: number): Array<Array<[number, number]>> {
  const scale = 1 / (outSize / inSize);
  const tab: Array<Array<[number, number]>> = [];
  for (let d = 0; d < outSize; d++) {
    const fs1 = d * scale;
    const fs2 = fs1 + scale;
    const cell = Math.min(scale, inSize - fs1);
    let s1 = Math.ceil(fs1);
    let s2 = Math.floor(fs2);
    s2 = Math.min(s2, inSize - 1);
    s1 = Math.min(s1, s2);
    const taps: Array<[number, number]> = [];
    if (s1 - fs1 > 1e-3) taps.push([s1 - 1, Math.fround((s1 - fs1) / cell)]);
    for (let s = s1; s < s2; s++) taps.push([s, Math.fround(1 / cell)]);
    if (fs2 - s2 > 1e-3) taps.push([s2, Math.fround(Math.min(Math.min(fs2 - s2, 1), cell) / cell)]);
    tab.push(taps);
  }
  return tab;
}

function shrink(r: Raster, width: number, height: number): Raster {
  const c = r.channels;
  const out = new Uint8Array(width * height * c);
  const sx = 1 / (width / r.width);
  const sy = 1 / (height / r.height);
  const isx = Math.round(sx);
  const isy = Math.round(sy);
  if (Math.abs(sx - isx) < Number.EPSILON && Math.abs(sy - isy) < Number.EPSILON) {
    // resizeAreaFast: the block mean; 2 x 2 as (sum + 2) >> 2, other factors sum * (1 / area) in float32, rounded
    const inv = Math.fround(1 / (isx * isy));
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let k = 0; k < c; k++) {
          let sum = 0;
          for (let j = 0; j < isy; j++) for (let i = 0; i < isx; i++) sum += r.data[((y * isy + j) * r.width + x * isx + i) * c + k]!;
          out[(y * width + x) * c + k] = isx === 2 && isy === 2 ? (sum + 2) >> 2 : round8(Math.fround(sum * inv));
        }
      }
    }
    return { width, height, channels: c, data: out };
  }
  const xt = areaTab(r.width, width);
  const yt = areaTab(r.height, height);
  const row = new Float32Array(width * c);
  const acc = new Float32Array(width * c);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (const [sy0, beta] of yt[y]!) {
      row.fill(0);
      for (let x = 0; x < width; x++) {
        for (const [sx0, alpha] of xt[x]!) {
          for (let k = 0; k < c; k++) row[x * c + k] = Math.fround(row[x * c + k]! + Math.fround(r.data[(sy0 * r.width + sx0) * c + k]! * alpha));
        }
      }
      for (let i = 0; i < width * c; i++) acc[i] = Math.fround(acc[i]! + Math.fround(row[i]! * beta));
    }
    for (let i = 0; i < width * c; i++) out[y * width * c + i] = round8(acc[i]!);
  }
  return { width, height, channels: c, data: out };
}

/**
 * cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA) of an 8-bit raster.
 * @example resizeCvArea({ width: 4, height: 1, channels: 1, data: Uint8Array.of(0, 10, 20, 30) }, 2, 1).data // [5, 25]
 */
export function resizeCvArea(r: Raster, width: number, height: number): Raster {
  if (!(width > 0 && height > 0)) throw new ConfigError(`INTER_AREA resize to ${width}x${height}`);
  if (width === r.width && height === r.height) return { ...r, data: r.data.slice() };
  const shrinking = 1 / (width / r.width) >= 1 && 1 / (height / r.height) >= 1;
  return shrinking ? shrink(r, width, height) : enlarge(r, width, height);
}
