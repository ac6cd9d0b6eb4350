// PNG, TIFF (8 and 16 bits per sample) and JPEG decoded through sharp (libvips): the Node side of src/io/raster.ts,
// which holds the conventions (values as stored, the default windows, no colour management) and the pure parts.
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { ConfigError, DecodeError, LimitError, UnsupportedError } from '../../errors.ts';
import { DEFAULT_MAX_PIXELS, looksLikeRaster, rasterWindow, type RasterOptions } from '../../io/raster.ts';
import type { DecodedImage } from '../../io/types.ts';

/** libvips interpretations we accept, and how many samples per pixel each has. */
const SPACES: Record<string, 1 | 3> = { 'b-w': 1, grey16: 1, srgb: 3, rgb: 3, rgb16: 3 };

/**
 * Read a PNG, TIFF or JPEG file (or its bytes) with values as stored; multi-page TIFFs become frames.
 * @example
 * const img = await readRaster('xray16.png');
 * [img.rows, img.columns, img.meta.bitsStored, img.windows[0]] // [2048, 2048, 16, { center: 2047.5, width: 4095, fn: 'LINEAR_EXACT' }]
 */
export async function readRaster(input: string | Uint8Array, options: RasterOptions = {}): Promise<DecodedImage> {
  const file = options.source ?? (typeof input === 'string' ? input : '<bytes>');
  let bytes: Uint8Array;
  try {
    bytes = typeof input === 'string' ? await readFile(input) : input;
  } catch (err) {
    throw new ConfigError(`cannot read file: ${(err as Error).message}`, { file, cause: err });
  }
  if (!looksLikeRaster(bytes)) throw new DecodeError('not a PNG, JPEG or TIFF file (no signature)', { file });
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { pages: -1, limitInputPixels: false }).metadata();
  } catch (err) {
    throw new DecodeError(`cannot read image header: ${(err as Error).message}`, { file, cause: err });
  }
  const samples = SPACES[meta.space ?? ''];
  if (!samples) throw new UnsupportedError(`colour space ${meta.space} (${meta.format}); expected greyscale or RGB`, { file });
  if (meta.depth !== 'uchar' && meta.depth !== 'ushort') throw new UnsupportedError(`sample format ${meta.depth}; expected 8 or 16 bits unsigned`, { file });
  const pages = meta.pages ?? 1;
  const rows = meta.pageHeight ?? meta.height;
  const columns = meta.width;
  if (!rows || !columns) throw new DecodeError('image has no size', { file });
  if (rows * columns * pages > maxPixels) throw new LimitError(`${columns} x ${rows} x ${pages} pages exceed maxPixels ${maxPixels} (raise it with maxPixels / --max-pixels)`, { file });

  let raw: { data: Buffer; info: OutputInfo };
  try {
    // Converting to the image's own interpretation keeps sharp from turning greyscale into sRGB or
    // 16 bits into 8; keepIccProfile skips the profile-to-sRGB transform.
    raw = await sharp(bytes, { pages: -1, limitInputPixels: false })
      .keepIccProfile()
      .toColourspace(meta.space as string)
      .removeAlpha()
      .raw({ depth: meta.depth })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new DecodeError(`cannot decode ${meta.format}: ${(err as Error).message}`, { file, cause: err });
  }
  const n = rows * columns * pages * samples;
  if (raw.info.channels !== samples || raw.data.length !== n * (meta.depth === 'ushort' ? 2 : 1)) {
    throw new DecodeError(`decoded ${raw.info.channels} channels, ${raw.data.length} bytes; expected ${samples} channels of ${columns} x ${rows} x ${pages}`, { file });
  }
  const data = new Float32Array(n); // [frames, rows, columns, samples]
  if (meta.depth === 'ushort') {
    // sharp returns samples in the machine's byte order
    const u16 = new Uint16Array(raw.data.buffer, raw.data.byteOffset, n);
    for (let i = 0; i < n; i++) data[i] = u16[i]!;
  } else {
    for (let i = 0; i < n; i++) data[i] = raw.data[i]!;
  }
  const bits = meta.depth === 'ushort' ? 16 : 8;
  return {
    source: file,
    rows,
    columns,
    frames: pages,
    samplesPerPixel: samples,
    data,
    photometric: samples === 1 ? 'MONOCHROME2' : 'RGB',
    windows: [rasterWindow(data, bits, options.window)],
    invert: false,
    meta: { format: meta.format, bitsStored: bits, hasAlpha: meta.hasAlpha ?? false, exifOrientation: meta.orientation, file },
  };
}
