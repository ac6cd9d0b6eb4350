// Tissue and tiles of a slide: Otsu's threshold (Otsu 1979) on the grey values of a low pyramid level splits
// tissue (darker) from glass; the slide is cut into a grid of square tiles at a chosen magnification, and
// the tiles that hold enough tissue are kept, read from the level nearest above that magnification.
import { ConfigError, DecodeError } from '../../errors.ts';
import { resize } from '../../image/resample.ts';
import type { Raster } from '../../image/types.ts';
import type { Slide } from './slide.ts';

/** Otsu's threshold of a 256-bin histogram: grey values <= t are one class, > t the other. */
export function otsuThreshold(hist: ArrayLike<number>): number {
  let total = 0;
  let sum = 0;
  for (let i = 0; i < 256; i++) {
    total += hist[i]!;
    sum += i * hist[i]!;
  }
  let wB = 0;
  let sumB = 0;
  let best = -1;
  let t = 0;
  for (let i = 0; i < 256; i++) {
    wB += hist[i]!;
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += i * hist[i]!;
    const between = wB * wF * (sumB / wB - (sum - sumB) / wF) ** 2;
    if (between > best) {
      best = between;
      t = i;
    }
  }
  return t;
}

export interface TissueMask {
  /** the pyramid level the mask was computed on */
  level: number;
  width: number;
  height: number;
  /** 1 where tissue, [height, width] */
  mask: Uint8Array;
  threshold: number;
  /** level-0 pixels per mask pixel */
  downsample: number;
}

/** ITU-R BT.601 luma, rounded, as PIL's convert('L'). */
export const grey = (r: number, g: number, b: number) => Math.round((r * 299 + g * 587 + b * 114) / 1000);

/** Tissue on the smallest level (or `level`): grey values at or below Otsu's threshold. */
export async function detectTissue(slide: Slide, level = slide.levels.length - 1): Promise<TissueMask> {
  const img = await slide.readLevel(level);
  const n = img.width * img.height;
  const g = new Uint8Array(n);
  const hist = new Float64Array(256);
  for (let i = 0; i < n; i++) {
    g[i] = grey(img.data[3 * i]!, img.data[3 * i + 1]!, img.data[3 * i + 2]!);
    hist[g[i]!]!++;
  }
  const threshold = otsuThreshold(hist);
  const mask = Uint8Array.from(g, (v) => (v <= threshold ? 1 : 0));
  return { level, width: img.width, height: img.height, mask, threshold, downsample: slide.levels[level]!.downsample };
}

export interface TileSpec {
  /** magnification to tile at (e.g. 20 for 20x); needs the slide's own magnification */
  magnification?: number;
  /** tile side in pixels at that magnification (default 224) */
  tileSize?: number;
  /** least fraction of a tile that must be tissue (default 0.5) */
  minTissue?: number;
}

export interface Tile {
  /** grid column and row */
  col: number;
  row: number;
  /** the tile's top-left corner and side in level-0 pixels */
  x: number;
  y: number;
  size: number;
  /** fraction of the tile's area that is tissue on the mask */
  tissue: number;
}

export interface TileGrid {
  columns: number;
  rows: number;
  tileSize: number;
  magnification: number;
  /** level-0 pixels per tile pixel */
  downsample: number;
  /** the level tiles are read from, and the side read there (resized to tileSize when it differs) */
  level: number;
  readSize: number;
  tiles: Tile[];
  mask: TissueMask;
}

/** The grid of tiles at a magnification, with the tissue fraction of each; only tiles with enough tissue. */
export async function tileGrid(slide: Slide, spec: TileSpec = {}): Promise<TileGrid> {
  const tileSize = spec.tileSize ?? 224;
  const minTissue = spec.minTissue ?? 0.5;
  if (!Number.isInteger(tileSize) || tileSize < 8) throw new ConfigError(`tile size must be an integer of at least 8, got ${tileSize}`);
  if (!(minTissue >= 0 && minTissue <= 1)) throw new ConfigError(`minimum tissue fraction must lie in [0, 1], got ${minTissue}`);
  const base = slide.magnification;
  const magnification = spec.magnification ?? base;
  if (magnification === undefined) throw new DecodeError('the slide states no magnification or microns per pixel; give the magnification of level 0', { file: slide.source });
  if (spec.magnification !== undefined && base === undefined) throw new DecodeError('the slide states no magnification or microns per pixel, so tiles cannot be cut at a magnification', { file: slide.source });
  const downsample = (base ?? magnification) / magnification;
  if (!(downsample >= 1)) throw new ConfigError(`magnification ${magnification}x is above the slide's ${base}x`);
  // the coarsest level still at least as fine as the wanted magnification
  let level = 0;
  slide.levels.forEach((l, i) => {
    if (l.downsample <= downsample * (1 + 1e-6) && l.downsample >= slide.levels[level]!.downsample) level = i;
  });
  const readSize = Math.round((tileSize * downsample) / slide.levels[level]!.downsample);
  const size = tileSize * downsample;
  const [W, H] = [slide.levels[0]!.width, slide.levels[0]!.height];
  const columns = Math.floor(W / size);
  const rows = Math.floor(H / size);
  const mask = await detectTissue(slide);
  const tiles: Tile[] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < columns; col++) {
      const [x, y] = [col * size, row * size];
      // the mask pixels whose centres fall inside the tile
      const mx0 = Math.ceil(x / mask.downsample - 0.5);
      const mx1 = Math.ceil((x + size) / mask.downsample - 0.5);
      const my0 = Math.ceil(y / mask.downsample - 0.5);
      const my1 = Math.ceil((y + size) / mask.downsample - 0.5);
      let on = 0;
      let all = 0;
      for (let my = my0; my < Math.min(my1, mask.height); my++) {
        for (let mx = mx0; mx < Math.min(mx1, mask.width); mx++) {
          on += mask.mask[my * mask.width + mx]!;
          all++;
        }
      }
      const tissue = all ? on / all : 0;
      if (tissue >= minTissue && all) tiles.push({ col, row, x, y, size, tissue });
    }
  }
  return { columns, rows, tileSize, magnification, downsample, level, readSize, tiles, mask };
}

/** The pixels of one tile at the grid's magnification, tileSize x tileSize RGB. */
export async function readGridTile(slide: Slide, grid: TileGrid, tile: Tile): Promise<Raster> {
  const d = slide.levels[grid.level]!.downsample;
  const r = await slide.readRegion(grid.level, Math.round(tile.x / d), Math.round(tile.y / d), grid.readSize, grid.readSize);
  return grid.readSize === grid.tileSize ? r : resize(r, grid.tileSize, grid.tileSize, 'bilinear');
}
