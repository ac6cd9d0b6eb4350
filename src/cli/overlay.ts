// Heatmaps drawn over the original image at its own size, as a reader looks at it. A map covers the model's
// input (after its resize and centre crop, padding or squash); here each original pixel finds its place in
// that input and takes the map's value there (bilinear), or no colour where the crop cut it away.
import { jet, type Raster } from '../index.ts';

/** Where the original image lies in the model's input: input x = offsetX + (u + 0.5) * scaleX - 0.5. */
export interface InputPlacement {
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
}

/**
 * The placement of a `width` x `height` image in an `inW` x `inH` model input for a resize mode: `shortest`
 * (the short side to the input, centre crop), `longest` (the long side, centred padding) or `squash`.
 * @example placement(200, 100, 64, 64, 'shortest') // { scaleX: 0.64, scaleY: 0.64, offsetX: -32, offsetY: 0 }
 */
export function placement(width: number, height: number, inW: number, inH: number, mode: 'shortest' | 'longest' | 'squash'): InputPlacement {
  if (mode === 'squash') return { scaleX: inW / width, scaleY: inH / height, offsetX: 0, offsetY: 0 };
  const s = mode === 'shortest' ? Math.max(inW / width, inH / height) : Math.min(inW / width, inH / height);
  return { scaleX: s, scaleY: s, offsetX: (inW - width * s) / 2, offsetY: (inH - height * s) / 2 };
}

/**
 * An RGB overlay [height, width, 3] of `map` ([inH, inW] in [0, 1] over the model input) on the original raster:
 * `(1 - alpha) * pixel + alpha * jet(heat)` where the model saw the pixel, the pixel itself where it did not.
 */
export function overlayOnOriginal(raster: Raster, map: Float32Array, inW: number, inH: number, p: InputPlacement, alpha: number): Uint8Array {
  const { width: W, height: H, channels: C, data } = raster;
  const out = new Uint8Array(W * H * 3);
  const xs = Array.from({ length: W }, (_, u) => p.offsetX + (u + 0.5) * p.scaleX - 0.5);
  for (let v = 0; v < H; v++) {
    const y = p.offsetY + (v + 0.5) * p.scaleY - 0.5;
    const inY = y >= -0.5 && y <= inH - 0.5;
    const y0 = Math.min(Math.max(Math.floor(y), 0), inH - 1);
    const y1 = Math.min(y0 + 1, inH - 1);
    const ty = Math.min(Math.max(y - y0, 0), 1);
    for (let u = 0; u < W; u++) {
      const i = v * W + u;
      const px = C === 1 ? [data[i]!, data[i]!, data[i]!] : [data[i * 3]!, data[i * 3 + 1]!, data[i * 3 + 2]!];
      const x = xs[u]!;
      if (!inY || x < -0.5 || x > inW - 0.5) {
        out.set(px, i * 3);
        continue;
      }
      const x0 = Math.min(Math.max(Math.floor(x), 0), inW - 1);
      const x1 = Math.min(x0 + 1, inW - 1);
      const tx = Math.min(Math.max(x - x0, 0), 1);
      const top = map[y0 * inW + x0]! * (1 - tx) + map[y0 * inW + x1]! * tx;
      const bottom = map[y1 * inW + x0]! * (1 - tx) + map[y1 * inW + x1]! * tx;
      const rgb = jet(top * (1 - ty) + bottom * ty);
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round((1 - alpha) * px[c]! + alpha * rgb[c]!);
    }
  }
  return out;
}
