// PIL's Image.resize for 8-bit images, bit for bit: the separable convolution of Pillow's
// libImaging/Resample.c (ImagingResample), written from a description of the algorithm.
//
// How it works: each output pixel of a pass is a weighted sum of the input pixels under the filter,
// centred on the output pixel's centre mapped into the input. When shrinking, the filter is stretched by
// the scale factor (antialiasing). The weights of each output pixel are normalised to sum to 1, then
// turned into fixed point integers; the sum is rounded, shifted back and clipped to 0..255. The
// horizontal pass runs first and its result is stored as 8 bits before the vertical pass, which is why
// this differs (by a grey level here and there) from a float implementation.
import { ShapeError } from '../errors.ts';
import type { Raster } from './types.ts';

export type ResampleFilter = 'bicubic' | 'bilinear' | 'lanczos';

/** Fractional bits of the fixed point weights (32-bit accumulator, 8-bit pixels, 2 bits of headroom). */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Filter {
  support: number;
  weight(x: number): number;
}

const FILTERS: Record<ResampleFilter, Filter> = {
  // Keys' cubic convolution with a = -0.5 (Pillow's choice, also Catmull-Rom).
  bicubic: {
    support: 2,
    weight(x: number): number {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  // Lanczos with three lobes: sinc(x) sinc(x / 3) on [-3, 3) (PIL's LANCZOS, formerly ANTIALIAS).
  lanczos: {
    support: 3,
    weight(x: number): number {
      const sinc = (v: number) => (v === 0 ? 1 : Math.sin(Math.PI * v) / (Math.PI * v));
      return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
    },
  },
  // Triangle.
  bilinear: {
    support: 1,
    weight(x: number): number {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
};

/** Per output pixel: first input index, count, and `stride` fixed point weights. */
interface Coefficients {
  first: Int32Array;
  count: Int32Array;
  stride: number;
  weights: Int32Array;
}

/** Weights for mapping the input span [0, inSize) onto outSize pixels. */
function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const k = new Float64Array(stride);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamp makes the sign irrelevant.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) / filterScale);
      k[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? k[x]! / total : k[x]!;
      // Round half away from zero, then truncate, as a C (int) cast of w * 2^22 +- 0.5 does.
      weights[xx * stride + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { first, count, stride, weights };
}

function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS; // arithmetic shift: floor, also for negative sums
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** One horizontal pass: [h, inW, c] -> [h, outW, c]. */
function horizontal(src: Uint8Array, h: number, inW: number, c: number, outW: number, f: Filter): Uint8Array {
  const { first, count, stride, weights } = coefficients(inW, outW, f);
  const out = new Uint8Array(h * outW * c);
  for (let y = 0; y < h; y++) {
    const row = y * inW * c;
    for (let xx = 0; xx < outW; xx++) {
      const base = row + first[xx]! * c;
      const n = count[xx]!;
      const kOff = xx * stride;
      for (let ch = 0; ch < c; ch++) {
        let acc = HALF;
        for (let x = 0; x < n; x++) acc += src[base + x * c + ch]! * weights[kOff + x]!;
        out[(y * outW + xx) * c + ch] = clip8(acc);
      }
    }
  }
  return out;
}

/** One vertical pass: [inH, w, c] -> [outH, w, c]. */
function vertical(src: Uint8Array, inH: number, w: number, c: number, outH: number, f: Filter): Uint8Array {
  const { first, count, stride, weights } = coefficients(inH, outH, f);
  const out = new Uint8Array(outH * w * c);
  const rowLen = w * c;
  for (let yy = 0; yy < outH; yy++) {
    const base = first[yy]! * rowLen;
    const n = count[yy]!;
    const kOff = yy * stride;
    for (let i = 0; i < rowLen; i++) {
      let acc = HALF;
      for (let y = 0; y < n; y++) acc += src[base + y * rowLen + i]! * weights[kOff + y]!;
      out[yy * rowLen + i] = clip8(acc);
    }
  }
  return out;
}

/**
 * Resize like PIL's `Image.resize((width, height), BICUBIC | BILINEAR)` on an 'L' or 'RGB' image.
 * @example resize({ width: 4, height: 1, channels: 1, data: Uint8Array.of(0, 100, 200, 250) }, 2, 1, 'bilinear').data
 * // Uint8Array [ 71, 207 ]
 */
export function resize(img: Raster, width: number, height: number, filter: ResampleFilter): Raster {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ShapeError(`resize ${name} must be a positive integer, got ${v}`);
  }
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new ShapeError(
      `raster data has ${img.data.length} bytes, expected ${img.width}x${img.height}x${img.channels} = ${img.width * img.height * img.channels}`,
    );
  }
  const f = FILTERS[filter];
  const c = img.channels;
  let data = img.data;
  // Each pass runs only where its size changes, as in Pillow (an unchanged axis is not filtered).
  if (width !== img.width) data = horizontal(data, img.height, img.width, c, width, f);
  if (height !== img.height) data = vertical(data, img.height, width, c, height, f);
  if (data === img.data) data = data.slice();
  return { width, height, channels: c, data };
}
