// Whole-slide images as tiled pyramids: Aperio SVS and generic tiled pyramidal TIFF through geotiff.js (the
// TIFF structure: IFDs, tile offsets, tags), levels and regions in RGB. JPEG tiles (TIFF compression 7, with
// their shared JPEGTables) are decoded by clipmed's sequential DCT decoder, which upsamples chroma and converts
// YCbCr as libjpeg does, so tiles equal what libvips/OpenSlide read; other compressions go through geotiff.
// The core takes bytes (or any geotiff source); src/node/io/slide-files.ts opens files.
import { fromArrayBuffer, type GeoTIFF, type GeoTIFFImage } from 'geotiff';
import { DecodeError, UnsupportedError } from '../../errors.ts';
import { decodeJpegDct } from '../dicom/jpeg-dct.ts';
import type { Raster } from '../../image/types.ts';
import { cachedTiles, tiledRegionReaders } from './tiled-region.ts';

/** Whether a path names a slide by its extension (.svs, .tif, .tiff, .ndpi are tried as pyramids). */
export const isSlidePath = (p: string) => /\.(svs|tiff?|ndpi|scn|bif)$/i.test(p);

export interface SlideLevel {
  /** index of the TIFF directory */
  ifd: number;
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  /** level-0 pixels per pixel of this level */
  downsample: number;
}

export interface Slide {
  source: string;
  format: 'aperio-svs' | 'tiled-tiff' | 'dicom-wsi';
  levels: SlideLevel[];
  /** microns per pixel at level 0, when the file says */
  mpp?: number;
  /** objective power at level 0: Aperio's AppMag, else 10 / mpp (0.25 um/px = 40x) */
  magnification?: number;
  /** RGB pixels of a region, in the coordinates of `level` */
  readRegion(level: number, x: number, y: number, width: number, height: number): Promise<Raster>;
  /** the whole of a level (refused past `maxPixels`) */
  readLevel(level: number, maxPixels?: number): Promise<Raster>;
}

export { DEFAULT_MAX_LEVEL_PIXELS } from './tiled-region.ts';

/** Aperio's ImageDescription: "Aperio Image Library ...|AppMag = 20|MPP = 0.4990|...". */
function aperioField(desc: string, key: string): number | undefined {
  const m = new RegExp(`\\|\\s*${key}\\s*=\\s*([0-9.]+)`).exec(desc);
  return m ? Number(m[1]) : undefined;
}

/** One decoded tile, RGB [tileHeight, tileWidth, 3]. */
async function readTile(img: GeoTIFFImage, tx: number, ty: number, file: string): Promise<Uint8Array> {
  const fd = img.getFileDirectory();
  const compression = Number(fd.getValue('Compression') ?? 1);
  const tw = img.getTileWidth();
  const th = img.getTileHeight();
  const spp = img.getSamplesPerPixel();
  if (compression === 7) {
    const photometric = Number(fd.getValue('PhotometricInterpretation') ?? 2);
    const tables = (await fd.loadValue('JPEGTables')) as number[] | Uint8Array | undefined;
    const decoder = {
      decode: async (buf: ArrayBuffer) => {
        let stream = new Uint8Array(buf);
        if (tables && tables.length > 4) {
          // abbreviated tile stream: the shared tables (without their EOI) then the tile (without its SOI)
          const t = Uint8Array.from(tables as ArrayLike<number>);
          const merged = new Uint8Array(t.length - 2 + stream.length - 2);
          merged.set(t.subarray(0, t.length - 2));
          merged.set(stream.subarray(2), t.length - 2);
          stream = merged;
        }
        // YCbCr photometric always converts; RGB photometric decides as libjpeg does (Aperio writes YCbCr JPEG under RGB)
        const j = decodeJpegDct(stream, file, photometric === 6 ? true : 'auto', { width: tw, height: th });
        if (j.components !== spp || j.precision !== 8) throw new UnsupportedError(`JPEG tile of ${j.components} components at ${j.precision} bits`, { file });
        return Uint8Array.from(j.data).buffer;
      },
    };
    const r = await img.getTileOrStrip(tx, ty, 0, decoder as never);
    const out = new Uint8Array(r.data as ArrayBuffer);
    return spp === 3 ? out : grey2rgb(out);
  }
  const x0 = tx * tw;
  const y0 = ty * th;
  const w = Math.min(tw, img.getWidth() - x0);
  const h = Math.min(th, img.getHeight() - y0);
  let r: ArrayLike<number>;
  try {
    r = (await img.readRasters({ window: [x0, y0, x0 + w, y0 + h], interleave: true })) as unknown as ArrayLike<number>;
  } catch (e) {
    // e.g. Aperio's JPEG 2000 tiles (compression 33003/33005), which geotiff.js does not decode
    throw new UnsupportedError(`tile ${tx},${ty} (TIFF compression ${compression}): ${(e as Error).message}`, { file });
  }
  const out = new Uint8Array(tw * th * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out[(y * tw + x) * 3 + c] = r[(y * w + x) * spp + (spp === 3 ? c : 0)]!;
  }
  return out;
}

const grey2rgb = (g: Uint8Array) => {
  const out = new Uint8Array(g.length * 3);
  for (let i = 0; i < g.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = g[i]!;
  return out;
};

/**
 * Open a slide from a geotiff.js handle (fromArrayBuffer, fromFile, ...).
 * @example (await openSlide(await fromArrayBuffer(buf), 'slide.svs')).levels.map((l) => l.downsample) // [1, 4, 16]
 */
export async function openSlideTiff(tiff: GeoTIFF, source: string): Promise<Slide> {
  const file = source;
  const n = await tiff.getImageCount();
  const images: { img: GeoTIFFImage; ifd: number }[] = [];
  for (let i = 0; i < n; i++) {
    const img = await tiff.getImage(i);
    // levels are the tiled directories; strips are Aperio's thumbnail, label and macro images
    if (img.isTiled && [1, 3].includes(img.getSamplesPerPixel()) && img.getBitsPerSample() === 8) images.push({ img, ifd: i });
  }
  if (!images.length) throw new UnsupportedError('no tiled 8-bit image directory: not a tiled pyramidal slide', { file });
  images.sort((a, b) => b.img.getWidth() - a.img.getWidth());
  const base = images[0]!.img;
  const levels = images.map(({ img, ifd }) => ({ ifd, width: img.getWidth(), height: img.getHeight(), tileWidth: img.getTileWidth(), tileHeight: img.getTileHeight(), downsample: base.getWidth() / img.getWidth() }));
  const fd0 = base.getFileDirectory();
  const desc = String((await fd0.loadValue('ImageDescription')) ?? '');
  const aperio = desc.startsWith('Aperio');
  let mpp = aperio ? aperioField(desc, 'MPP') : undefined;
  if (mpp === undefined) {
    const xres = (await fd0.loadValue('XResolution')) as ArrayLike<number> | number | undefined;
    const unit = Number((await fd0.loadValue('ResolutionUnit')) ?? 2);
    const res = typeof xres === 'number' || xres === undefined ? xres : xres[0]! / (xres[1] || 1); // a RATIONAL: [numerator, denominator]
    // pixels per cm (3) or inch (2); screen defaults (72 dpi and its vips cousin) are no microscope's
    const um = res && res > 0 ? (unit === 3 ? 1e4 : unit === 2 ? 25400 : NaN) / res : NaN;
    if (Number.isFinite(um) && um < 50) mpp = um;
  }
  const magnification = aperio ? aperioField(desc, 'AppMag') : mpp ? Math.round((10 / mpp) * 100) / 100 : undefined;
  const { readRegion, readLevel } = tiledRegionReaders(levels, cachedTiles((l, tx, ty) => readTile(images[l]!.img, tx, ty, file)), file);
  return {
    source,
    format: aperio ? 'aperio-svs' : 'tiled-tiff',
    levels,
    ...(mpp !== undefined ? { mpp } : {}),
    ...(magnification !== undefined ? { magnification } : {}),
    readRegion,
    readLevel,
  };
}

/** Open a slide held in memory. */
export async function openSlide(bytes: Uint8Array, source: string): Promise<Slide> {
  let tiff: GeoTIFF;
  try {
    tiff = await fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  } catch (e) {
    throw new DecodeError(`not a TIFF: ${(e as Error).message}`, { file: source });
  }
  return openSlideTiff(tiff, source);
}
