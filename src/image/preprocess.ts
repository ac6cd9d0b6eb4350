// open_clip's evaluation transform (v2.24.0, src/open_clip/transform.py: image_transform with
// is_train=False), with torchvision's Resize/CenterCrop size arithmetic, on 8-bit rasters.
// Resampling is PIL's (./resample.ts), so the 8-bit result is PIL's to the grey level.
//
// Input is what PIL's convert('RGB') gives (grey is replicated to RGB at the end, which commutes
// with resizing because every channel is filtered alike).
import { ConfigError, ShapeError } from '../errors.ts';
import { resize, type ResampleFilter } from './resample.ts';
import type { Raster } from './types.ts';

export interface PreprocessConfig {
  /** Output size: a square side, or [height, width] as open_clip's image_size tuple. */
  size: number | [number, number];
  mean: [number, number, number];
  std: [number, number, number];
  interpolation: 'bicubic' | 'bilinear';
  resizeMode: 'shortest' | 'longest' | 'squash';
  /** Padding value (0..255, all channels) for 'longest'; open_clip's fill_color, default 0. */
  fillColor?: number;
  /**
   * Center-crop origin for an odd margin: torchvision's int(round(margin / 2)) ('half-even', the default) or
   * transformers' margin // 2 ('floor', CLIPImageProcessor's center_crop).
   */
  cropRounding?: 'half-even' | 'floor';
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function targetSize(cfg: PreprocessConfig): [number, number] {
  const [h, w] = typeof cfg.size === 'number' ? [cfg.size, cfg.size] : cfg.size;
  for (const v of [h, w]) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`preprocess size must be positive integers, got ${JSON.stringify(cfg.size)}`);
  }
  return [h, w];
}

/** timm/open_clip ResizeKeepRatio: scale both sides by one ratio, between shortest (0) and longest (1) edge. */
function keepRatioSize(h: number, w: number, th: number, tw: number, longest: 0 | 1): [number, number] {
  const rh = h / th;
  const rw = w / tw;
  const ratio = Math.max(rh, rw) * longest + Math.min(rh, rw) * (1 - longest);
  return [roundHalfEven(h / ratio), roundHalfEven(w / ratio)];
}

/**
 * torchvision CenterCrop / open_clip CenterCropOrPad: pad (left/top getting the smaller half) where the
 * image is smaller than the crop, then crop at int(round((size - crop) / 2)).
 */
function centerCropOrPad(img: Raster, th: number, tw: number, fill: number, half: (x: number) => number = roundHalfEven): Raster {
  const c = img.channels;
  const padLeft = tw > img.width ? Math.floor((tw - img.width) / 2) : 0;
  const padTop = th > img.height ? Math.floor((th - img.height) / 2) : 0;
  const paddedW = Math.max(img.width, tw);
  const paddedH = Math.max(img.height, th);
  const top = half((paddedH - th) / 2) - padTop; // crop origin in the unpadded image
  const left = half((paddedW - tw) / 2) - padLeft;
  if (top === 0 && left === 0 && th === img.height && tw === img.width) return img;
  const out = new Uint8Array(th * tw * c).fill(fill);
  for (let y = 0; y < th; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(tw, img.width - left);
    if (x1 <= x0) continue;
    out.set(img.data.subarray((sy * img.width + x0 + left) * c, (sy * img.width + x1 + left) * c), (y * tw + x0) * c);
  }
  return { width: tw, height: th, channels: c, data: out };
}

function resizeTo(img: Raster, h: number, w: number, filter: ResampleFilter): Raster {
  // torchvision hands an unchanged size back untouched; PIL would copy it, which is the same.
  return h === img.height && w === img.width ? img : resize(img, w, h, filter);
}

function validate(r: Raster, index: number): void {
  if (r.channels !== 1 && r.channels !== 3) throw new ShapeError(`image ${index}: channels must be 1 or 3, got ${r.channels}`);
  if (!Number.isInteger(r.width) || !Number.isInteger(r.height) || r.width < 1 || r.height < 1) {
    throw new ShapeError(`image ${index}: size must be positive integers, got ${r.width}x${r.height}`);
  }
  if (r.data.length !== r.width * r.height * r.channels) {
    throw new ShapeError(`image ${index}: data has ${r.data.length} bytes, expected ${r.width}x${r.height}x${r.channels}`);
  }
}

/**
 * The 8-bit RGB image, [height, width, 3], after open_clip's resize and crop/pad, before ToTensor.
 * @example preprocessRaster({ width: 2, height: 1, channels: 1, data: Uint8Array.of(0, 255) },
 *   { size: 1, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', resizeMode: 'shortest' })
 * // Uint8Array [ 0, 0, 0 ] (the 2x1 image is already 1 high; the crop keeps the left pixel, round(0.5) = 0)
 */
export function preprocessRaster(r: Raster, cfg: PreprocessConfig, index = 0): Uint8Array {
  validate(r, index);
  const [th, tw] = targetSize(cfg);
  const filter = cfg.interpolation;
  if (filter !== 'bicubic' && filter !== 'bilinear') throw new ConfigError(`interpolation must be 'bicubic' or 'bilinear', got '${filter}'`);
  const fill = cfg.fillColor ?? 0;
  if (!Number.isInteger(fill) || fill < 0 || fill > 255) throw new ConfigError(`fillColor must be an integer 0..255, got ${fill}`);
  let img: Raster;
  switch (cfg.resizeMode) {
    case 'shortest': {
      if (th === tw) {
        // torchvision Resize(int): the shorter side becomes `size`, the longer int(size * long / short).
        const short = Math.min(r.width, r.height);
        const long = Math.max(r.width, r.height);
        const other = Math.trunc((th * long) / short);
        img = r.width <= r.height ? resizeTo(r, other, th, filter) : resizeTo(r, th, other, filter);
      } else {
        // open_clip builds ResizeKeepRatio(image_size) here without passing the interpolation, so a
        // non-square 'shortest' target is always resized bicubic; reproduced on purpose.
        const [h, w] = keepRatioSize(r.height, r.width, th, tw, 0);
        img = resizeTo(r, h, w, 'bicubic');
      }
      img = centerCropOrPad(img, th, tw, 0, cfg.cropRounding === 'floor' ? Math.floor : roundHalfEven);
      break;
    }
    case 'longest': {
      const [h, w] = keepRatioSize(r.height, r.width, th, tw, 1);
      img = centerCropOrPad(resizeTo(r, h, w, filter), th, tw, fill);
      break;
    }
    case 'squash':
      img = resizeTo(r, th, tw, filter);
      break;
    default:
      throw new ConfigError(`resizeMode must be 'shortest', 'longest' or 'squash', got '${String(cfg.resizeMode)}'`);
  }
  if (img.channels === 3) return img === r ? img.data.slice() : img.data;
  const rgb = new Uint8Array(img.width * img.height * 3); // [h, w, 3]
  for (let i = 0; i < img.data.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = img.data[i]!;
  return rgb;
}

/**
 * open_clip's eval transform for a batch: [N, 3, H, W] float32, channel first, (x / 255 - mean) / std.
 * @example preprocess([raster], { size: 224, mean: OPENAI_MEAN, std: OPENAI_STD, interpolation: 'bicubic', resizeMode: 'shortest' })
 * // Float32Array of 1 * 3 * 224 * 224 values
 */
export function preprocess(images: Raster[], cfg: PreprocessConfig): Float32Array {
  const [h, w] = targetSize(cfg);
  for (const [name, v] of [['mean', cfg.mean], ['std', cfg.std]] as const) {
    if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) throw new ConfigError(`${name} must be 3 finite numbers, got ${JSON.stringify(v)}`);
  }
  if (cfg.std.some((s) => s === 0)) throw new ConfigError(`std must not contain 0, got ${JSON.stringify(cfg.std)}`);
  const plane = h * w;
  const out = new Float32Array(images.length * 3 * plane); // [N, 3, H, W]
  // float32 arithmetic step by step, as ToTensor (x / 255) then Normalize (sub, div) do in torch.
  const mean = cfg.mean.map(Math.fround);
  const std = cfg.std.map(Math.fround);
  images.forEach((r, n) => {
    const hwc = preprocessRaster(r, cfg, n);
    for (let ch = 0; ch < 3; ch++) {
      const m = mean[ch]!;
      const s = std[ch]!;
      const base = (n * 3 + ch) * plane;
      for (let i = 0; i < plane; i++) out[base + i] = Math.fround(Math.fround(hwc[3 * i + ch]! / 255) - m) / s;
    }
  });
  return out;
}
