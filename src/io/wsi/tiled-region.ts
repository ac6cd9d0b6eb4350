// Regions and whole levels of a tiled pyramid, whatever holds the tiles (a TIFF directory, a DICOM
// instance's frames): the tiles a region crosses are read (through a small cache) and their overlap copied
// into an RGB raster, white where no tile covers it, as OpenSlide's background.
import { DecodeError, LimitError } from '../../errors.ts';
import type { Raster } from '../../image/types.ts';
import type { Slide, SlideLevel } from './slide.ts';

export const DEFAULT_MAX_LEVEL_PIXELS = 2 ** 26;

/**
 * One tile of a level, RGB [tileHeight, tileWidth, 3] (edge tiles at full tile size); undefined for a tile
 * the file does not hold (a sparse pyramid's background).
 */
export type TileReader = (level: number, tx: number, ty: number) => Promise<Uint8Array | undefined>;

/** `read` with its last 256 or so tiles kept, oldest dropped first. */
export function cachedTiles(read: TileReader): TileReader {
  const cache = new Map<string, Promise<Uint8Array | undefined>>();
  return (l, tx, ty) => {
    const key = `${l}/${tx}/${ty}`;
    let t = cache.get(key);
    if (!t) {
      if (cache.size > 256) cache.delete(cache.keys().next().value!);
      t = read(l, tx, ty);
      cache.set(key, t);
    }
    return t;
  };
}

/**
 * readRegion and readLevel of a slide whose levels' tiles `tile` reads; errors name `file`.
 * @example await tiledRegionReaders([{ ifd: 0, width: 2, height: 1, tileWidth: 2, tileHeight: 1, downsample: 1 }], async () => undefined, 's').readRegion(0, 1, 0, 2, 1) // { width: 2, height: 1, channels: 3, data: [255, 255, 255, 255, 255, 255] }
 */
export function tiledRegionReaders(levels: readonly SlideLevel[], tile: TileReader, file: string): Pick<Slide, 'readRegion' | 'readLevel'> {
  const readRegion = async (l: number, x: number, y: number, width: number, height: number): Promise<Raster> => {
    const lv = levels[l];
    if (!lv) throw new DecodeError(`level ${l}: the slide has ${levels.length}`, { file });
    if (![x, y, width, height].every(Number.isInteger) || width < 1 || height < 1) throw new DecodeError(`region ${x},${y} ${width}x${height} is not a whole-pixel region`, { file });
    const out = new Uint8Array(width * height * 3).fill(255); // outside the level: white, as OpenSlide's background
    const { tileWidth: tw, tileHeight: th } = lv;
    for (let ty = Math.max(0, Math.floor(y / th)); ty <= Math.min(Math.ceil(lv.height / th) - 1, Math.floor((y + height - 1) / th)); ty++) {
      for (let tx = Math.max(0, Math.floor(x / tw)); tx <= Math.min(Math.ceil(lv.width / tw) - 1, Math.floor((x + width - 1) / tw)); tx++) {
        const t = await tile(l, tx, ty);
        if (!t) continue;
        const x0 = Math.max(x, tx * tw);
        const x1 = Math.min(x + width, (tx + 1) * tw, lv.width);
        for (let yy = Math.max(y, ty * th); yy < Math.min(y + height, (ty + 1) * th, lv.height); yy++) {
          const src = ((yy - ty * th) * tw + (x0 - tx * tw)) * 3;
          out.set(t.subarray(src, src + (x1 - x0) * 3), ((yy - y) * width + (x0 - x)) * 3);
        }
      }
    }
    return { width, height, channels: 3, data: out };
  };
  return {
    readRegion,
    readLevel: (l, maxPixels = DEFAULT_MAX_LEVEL_PIXELS) => {
      const lv = levels[l];
      if (!lv) throw new DecodeError(`level ${l}: the slide has ${levels.length}`, { file });
      if (lv.width * lv.height > maxPixels) throw new LimitError(`level ${l} is ${lv.width}x${lv.height}, over ${maxPixels} pixels`, { file });
      return readRegion(l, 0, 0, lv.width, lv.height);
    },
  };
}
