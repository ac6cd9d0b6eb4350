// PNG, TIFF (8 and 16 bits per sample) and JPEG as DecodedImage: the conventions, the signature test and the
// display windows, with no decoder. The Node side decodes with sharp (libvips): readRaster in src/node/io/raster.ts.
//
// Stored values are kept as they are in the file (0..255 or 0..65535), never rescaled on decoding. The
// display window travels in `windows[0]`:
//   8-bit:  identity, 0 -> 0 and 255 -> 255 (LINEAR_EXACT, center 127.5, width 255);
//   16-bit: the full range of the data, min -> 0 and max -> 255, or the window the caller gives.
// This differs on purpose from PIL's `Image.open(p).convert('RGB')`, which clips 16-bit greyscale at 255
// (every value above 255 turns white), and so loses almost all of a 12- or 16-bit radiograph.
//
// Colour management: values are read as stored, with no ICC-profile conversion and no EXIF rotation, which
// is what PIL gives too. Alpha channels are dropped. CMYK, Lab and float images are refused.
import { ConfigError } from '../errors.ts';
import { applyVoiLut, applyWindow, parseWindow, toBytes, type Window } from '../image/window.ts';
import type { Raster } from '../image/types.ts';
import type { DecodedImage } from './types.ts';

export interface RasterOptions {
  /** name for messages and `source` when decoding bytes */
  source?: string;
  /** display window (or preset name / "center,width"); default as described at the top of this file */
  window?: Window | string;
  /** refuse images with more pixels (all pages together) than this before decoding; default DEFAULT_MAX_PIXELS */
  maxPixels?: number;
}

/**
 * 2^25 (33.5 million) pixels: past the largest single medical images read as rasters (full-field mammograms
 * of 4096 x 5355 are 22 million), while a 783 KB PNG of 2^28 flat pixels decoded to 4 GB under the old default.
 * Raise it with `maxPixels` (the CLI's `--max-pixels`) for larger scans.
 */
export const DEFAULT_MAX_PIXELS = 2 ** 25;

/**
 * True for PNG, JPEG and TIFF signatures.
 * @example looksLikeRaster(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0)) // true
 */
export function looksLikeRaster(b: Uint8Array): boolean {
  const png = b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
  const jpeg = b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
  const tiff = (b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a);
  return png || jpeg || tiff;
}

/**
 * The display window of a decoded raster: the caller's (a Window, or a preset name / "center,width"), else for 8
 * bits the identity, for 16 bits the range of the values (as described at the top of this file).
 * @example rasterWindow(Float32Array.of(0, 255), 8) // { center: 127.5, width: 255, fn: 'LINEAR_EXACT' }
 */
export function rasterWindow(data: Float32Array, bits: 8 | 16, win?: Window | string): Window {
  if (typeof win === 'string') return parseWindow(win);
  if (win) return win;
  if (bits === 8) return { center: 127.5, width: 255, fn: 'LINEAR_EXACT' };
  return rangeWindow(data);
}

/**
 * LINEAR_EXACT window from the minimum (-> 0) to the maximum (-> 255) of the values.
 * @example rangeWindow(Float32Array.of(100, 4000)) // { center: 2050, width: 3900, fn: 'LINEAR_EXACT' }
 */
export function rangeWindow(data: Float32Array): Window {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of data) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (!(hi >= lo)) [lo, hi] = [0, 0]; // empty or all NaN
  if (hi === lo) return { center: lo + 0.5, width: 1, fn: 'LINEAR_EXACT' };
  return { center: (lo + hi) / 2, width: hi - lo, fn: 'LINEAR_EXACT' };
}

/**
 * One frame of a DecodedImage as an 8-bit Raster through a window: the given one, else the image's first,
 * else the frame's range. MONOCHROME1 (invert) is flipped after windowing.
 * @example toDisplayRaster(await readRaster('xray16.png')).data // Uint8Array, min -> 0, max -> 255
 */
export function toDisplayRaster(img: DecodedImage, frame = 0, window?: Window): Raster {
  const per = img.rows * img.columns * img.samplesPerPixel;
  if (!Number.isInteger(frame) || frame < 0 || frame >= img.frames) {
    throw new ConfigError(`frame ${frame}: image has ${img.frames} frame(s)`, { file: img.source });
  }
  const values = img.data.subarray(frame * per, (frame + 1) * per);
  // With no window from the caller or the file, the frame's own range is shown, as for 16-bit rasters.
  // an explicit window wins; else the file's VOI LUT, then its first window, then the frame's range
  const out = !window && img.voiLut ? applyVoiLut(values, img.voiLut, 255) : applyWindow(values, window ?? img.windows[0] ?? rangeWindow(values));
  if (img.invert) for (let i = 0; i < out.length; i++) out[i] = 255 - out[i]!;
  return { width: img.columns, height: img.rows, channels: img.samplesPerPixel, data: toBytes(out) };
}
