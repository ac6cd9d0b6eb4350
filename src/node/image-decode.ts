// Node side of the platform boundary: image bytes or a file to the 8-bit Raster that PIL's Image.open(path).convert('RGB') would give
// (grey is kept as one channel here; preprocess replicates it, as convert('RGB') of an 'L' image does).
// Decoding is sharp's (libvips, libjpeg-turbo/libpng/libtiff/libwebp); resampling is not done here.
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { ConfigError, DecodeError, LimitError, UnsupportedError } from '../errors.ts';
import { DEFAULT_MAX_PIXELS } from '../io/raster.ts';
import type { Raster } from '../image/types.ts';

/** libvips interpretations that PIL opens as 'L'/'LA' (1 channel after dropping alpha) or 'RGB'/'RGBA'/'P'. */
const CHANNELS: Record<string, 1 | 3> = { 'b-w': 1, srgb: 3, rgb: 3 };
const FORMATS = new Set(['jpeg', 'png', 'tiff', 'webp']);

/**
 * Decode a JPEG, PNG, TIFF or WebP file to an 8-bit grey or RGB raster.
 *
 * - Alpha is dropped, not composited: PIL's convert('RGB') of 'RGBA'/'LA' discards it.
 * - Palette images are expanded to their colours (any tRNS transparency ignored), as convert('RGB') does.
 * - EXIF orientation is not applied: PIL's Image.open does not rotate either, and open_clip feeds its
 *   result straight to the transform, so the reference model saw the stored orientation.
 * - Embedded ICC profiles are not applied (PIL ignores them); CMYK files are refused, because PIL's
 *   naive CMYK->RGB and libvips' colour-managed conversion disagree.
 * - Multi-page or animated files give their first page, as Image.open does.
 * - 16-bit files are refused with a ConfigError: map them to 8 bits with a window first
 *   (node/io/raster.ts readRaster, then image/window.ts applyWindow/toBytes), since no fixed 16 -> 8 bit
 *   conversion is right for medical images.
 *
 * Note open_clip itself resizes an un-converted 'RGBA', 'LA' or 'P' image before converting it
 * (PIL premultiplies alpha, or uses nearest neighbour for 'P'); this raster matches the common
 * `preprocess(Image.open(p).convert('RGB'))` instead, which equals open_clip's for 'L' and 'RGB' files.
 * @example const r = await decodeImageFile('covid-cxr-notes/images/4e43e48d52c9e2d4c6c1fb9bc1544f_jumbo.jpg');
 *   [r.width, r.height, r.channels] // [510, 512, 1]
 */
export async function decodeImageFile(path: string, options: { maxPixels?: number } = {}): Promise<Raster> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new DecodeError(`cannot read file: ${(cause as Error).message}`, { file: path, cause });
  }
  return decodeImageBytes(bytes, path, options);
}

/** `decodeImageFile` for bytes already in memory; `path` names them in errors. */
export async function decodeImageBytes(input: Uint8Array, path = 'image', options: { maxPixels?: number } = {}): Promise<Raster> {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (cause) {
    throw new DecodeError(`not a readable JPEG, PNG, TIFF or WebP image: ${(cause as Error).message}`, { file: path, cause });
  }
  // the size from the header, before anything is decoded: a small PNG of flat colour can hold gigapixels
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if ((meta.width ?? 0) * (meta.pageHeight ?? meta.height ?? 0) > maxPixels) {
    throw new LimitError(`${meta.width} x ${meta.pageHeight ?? meta.height} pixels exceed maxPixels ${maxPixels} (raise it with maxPixels / --max-pixels)`, { file: path });
  }
  if (!FORMATS.has(meta.format ?? '')) {
    throw new UnsupportedError(`image format '${meta.format}'; expected jpeg, png, tiff or webp`, { file: path });
  }
  if (meta.depth === 'ushort') {
    throw new ConfigError(
      '16-bit image: window it to 8 bits first (readRaster from io, then applyWindow/toBytes), no default 16 -> 8 bit mapping is applied',
      { file: path },
    );
  }
  if (meta.depth !== 'uchar') throw new UnsupportedError(`sample format '${meta.depth}'; expected 8-bit unsigned`, { file: path });
  const channels = CHANNELS[meta.space ?? ''];
  if (!channels) throw new UnsupportedError(`colour space '${meta.space}'; expected greyscale or RGB`, { file: path });
  let raw: { data: Buffer; info: OutputInfo };
  try {
    // toColourspace(own space) and keepIccProfile stop sharp's default conversion to colour-managed sRGB.
    raw = await sharp(bytes, { limitInputPixels: Math.max(1, maxPixels) })
      .keepIccProfile()
      .toColourspace(meta.space as string)
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw new DecodeError(`cannot decode ${meta.format}: ${(cause as Error).message}`, { file: path, cause });
  }
  const { width, height } = raw.info;
  if (raw.info.channels !== channels || raw.data.length !== width * height * channels) {
    throw new DecodeError(
      `decoded ${raw.info.channels} channels, ${raw.data.length} bytes; expected ${channels} channels of ${width}x${height}`,
      { file: path },
    );
  }
  return { width, height, channels, data: new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length) };
}
