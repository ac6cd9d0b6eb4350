// Training data, the pure part: the pair rows and decoded pairs a run trains on, and open_clip's two
// transforms: the evaluation transform (`--no-augment`, exact) and the training transform (open_clip v2.24.0
// `transform.py` image_transform(is_train=True): RandomResizedCrop(scale=(0.9, 1.0), ratio=(3/4, 4/3),
// bicubic), ToTensor, Normalize), seeded per step and sample so that a resumed run draws the same crops. The
// crop is taken from a copy whose shorter side is cut to 2x the model's size (memory), so augmented pixels are
// not torchvision's to the grey level, only drawn the same way. Reading manifests and decoding the images is
// the Node side's (src/node/train/data.ts).
import { mulberry32, type Random } from '../eval/prng.ts';
import { preprocessRaster, type PreprocessConfig } from '../image/preprocess.ts';
import { resize } from '../image/resample.ts';
import type { Raster } from '../image/types.ts';

export interface PairRow {
  /** the image path, resolved against the manifest's folder */
  image: string;
  text: string;
  /** the manifest's other columns (a label column is used for zero-shot AUROC in validation) */
  record: Record<string, string>;
}

export interface LoadedPairs {
  rows: PairRow[];
  /** the evaluation transform's 8-bit RGB result per row, [size, size, 3] */
  evalHwc: Uint8Array[];
  /** the decoded image, shorter side at most 2x the model's size, for the training transform */
  rasters: Raster[];
  failures: Array<{ image: string; error: Error }>;
}

/** A copy of `r` whose shorter side is at most `maxShort` (bicubic), or `r` itself when it is already. */
export function shrinkShortSide(r: Raster, maxShort: number): Raster {
  const short = Math.min(r.width, r.height);
  if (short <= maxShort) return r;
  const k = maxShort / short;
  return resize(r, Math.max(1, Math.round(r.width * k)), Math.max(1, Math.round(r.height * k)), 'bicubic');
}

/** [3, S, S] float32 from an 8-bit [S, S, 3] image: (x / 255 - mean) / std in float32 steps, as ToTensor + Normalize. */
export function normalizeHwc(hwc: Uint8Array, pp: PreprocessConfig, out: Float32Array, offset: number): void {
  const plane = hwc.length / 3;
  for (let ch = 0; ch < 3; ch++) {
    const m = Math.fround(pp.mean[ch]!);
    const s = Math.fround(pp.std[ch]!);
    for (let i = 0; i < plane; i++) out[offset + ch * plane + i] = Math.fround(Math.fround(hwc[3 * i + ch]! / 255) - m) / s;
  }
}

/** torchvision RandomResizedCrop.get_params: (top, left, height, width) of the crop. */
export function randomResizedCropBox(width: number, height: number, rng: Random, scale: [number, number] = [0.9, 1], ratio: [number, number] = [3 / 4, 4 / 3]): [number, number, number, number] {
  const area = width * height;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng());
    const aspect = Math.exp(logRatio[0]! + (logRatio[1]! - logRatio[0]!) * rng());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = Math.floor(rng() * (height - h + 1));
      const left = Math.floor(rng() * (width - w + 1));
      return [top, left, h, w];
    }
  }
  // fallback: the central crop at the nearest allowed ratio
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return [Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w];
}

/** The training transform of one image into `out` at `offset` ([3, S, S]). */
export function trainTransform(r: Raster, pp: PreprocessConfig, rng: Random, out: Float32Array, offset: number): void {
  const size = typeof pp.size === 'number' ? pp.size : pp.size[0];
  const [top, left, h, w] = randomResizedCropBox(r.width, r.height, rng);
  const c = r.channels;
  const crop = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) crop.set(r.data.subarray(((top + y) * r.width + left) * c, ((top + y) * r.width + left + w) * c), y * w * c);
  const resized = resize({ width: w, height: h, channels: c, data: crop }, size, size, pp.interpolation);
  const hwc = preprocessRaster(resized, { ...pp, resizeMode: 'squash' });
  normalizeHwc(hwc, pp, out, offset);
}

/** The row order of `epoch`: the manifest's order, or a seeded shuffle (Fisher-Yates) per epoch. */
export function epochOrder(n: number, epoch: number, seed: number, shuffle: boolean): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (!shuffle) return order;
  const rng = mulberry32((seed * 1000003 + epoch * 7919 + 1) >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** A generator for the crops of one sample of one step, so a resumed run draws the same ones. */
export function sampleRng(seed: number, step: number, slot: number): Random {
  return mulberry32((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b) ^ Math.imul(slot + 1, 0xc2b2ae35)) >>> 0);
}

