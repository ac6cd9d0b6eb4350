// The Node side of slides: open a slide file without reading it whole (geotiff.js reads the ranges it needs).
import { fromFile } from 'geotiff';
import { DecodeError } from '../../errors.ts';
import { openSlideTiff, type Slide } from './slide.ts';

/**
 * Open an Aperio SVS or tiled pyramidal TIFF file.
 * @example (await openSlideFile('slide.svs')).magnification // 20
 */
export async function openSlideFile(path: string): Promise<Slide> {
  let tiff;
  try {
    tiff = await fromFile(path);
  } catch (e) {
    throw new DecodeError(`not a readable TIFF: ${(e as Error).message}`, { file: path });
  }
  return openSlideTiff(tiff, path);
}

/** Whether a path names a slide by its extension (.svs, .tif, .tiff, .ndpi are tried as pyramids). */
export const isSlidePath = (p: string) => /\.(svs|tiff?|ndpi|scn|bif)$/i.test(p);

/** A file to read as a slide: .svs, or a TIFF with tiled pyramid levels (an ordinary TIFF image is not). */
export async function isSlideFile(path: string): Promise<boolean> {
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
