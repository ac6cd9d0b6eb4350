// The Node side of slides: open a TIFF slide without reading it whole (geotiff.js reads the ranges it needs),
// or the instances of a DICOM whole-slide image (a folder, or one file).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFile } from 'geotiff';
import { isDicomWsi, openDicomSlide } from '../../io/wsi/dicom-slide.ts';
import { DecodeError } from '../../errors.ts';
import { isSlidePath, openSlideTiff, type Slide } from '../../io/wsi/slide.ts';
import './dicom-codecs.ts';

/**
 * Open an Aperio SVS or tiled pyramidal TIFF file, or a DICOM whole-slide image (folder or .dcm).
 * @example (await openSlideFile('slide.svs')).magnification // 20
 */
export async function openSlideFile(path: string): Promise<Slide> {
  if ((await stat(path).catch(() => undefined))?.isDirectory() || /\.dcm$/i.test(path)) return openDicomSlide(await dicomInstances(path), path);
  let tiff;
  try {
    tiff = await fromFile(path);
  } catch (e) {
    throw new DecodeError(`not a readable TIFF: ${(e as Error).message}`, { file: path });
  }
  return openSlideTiff(tiff, path);
}

/** A file to read as a slide: .svs, or a TIFF with tiled pyramid levels (an ordinary TIFF image is not). */
export async function isSlideFile(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (st?.isDirectory()) return (await dicomInstances(path, 1)).some((i) => isDicomWsi(i.bytes, i.source));
  if (st?.isFile() && /\.dcm$/i.test(path)) return isDicomWsi(await readFile(path), path);
  if (!isSlidePath(path)) return false;
  if (/\.svs$/i.test(path)) return true;
  try {
    const tiff = await fromFile(path);
    let tiled = 0;
    for (let i = 0, n = await tiff.getImageCount(); i < n && tiled < 2; i++) if ((await tiff.getImage(i)).isTiled) tiled++;
    await tiff.close?.();
    return tiled >= 2;
  } catch {
    return false;
  }
}

/** The files of a DICOM slide: a folder's files (sorted; at most `limit`), or the one file. */
async function dicomInstances(path: string, limit = Infinity): Promise<{ source: string; bytes: Uint8Array }[]> {
  const st = await stat(path);
  const files = st.isDirectory() ? (await readdir(path, { withFileTypes: true })).filter((e) => e.isFile() && !/^DICOMDIR/i.test(e.name)).map((e) => join(path, e.name)).sort().slice(0, limit) : [path];
  return Promise.all(files.map(async (f) => ({ source: f, bytes: await readFile(f) })));
}
