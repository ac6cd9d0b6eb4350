// A per-tile heatmap painted over a slide thumbnail: each tile's value (0..1) as a colour from blue through
// green to red, blended at `alpha` over the thumbnail; tiles without a value keep the thumbnail.
import { ShapeError } from '../../errors.ts';
import type { Raster } from '../../image/types.ts';
import type { TileGrid } from './tiles.ts';

/** A blue-cyan-green-yellow-red ramp (the "jet" colour map's shape) for v in [0, 1]. */
export function ramp(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v));
  const c = (x: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - x))));
  return [c(3), c(2), c(1)];
}

/**
 * Paint `values[i]` (one per grid.tiles[i], 0..1) over `thumb`, a level `downsample` times smaller than level 0.
 * @example slideHeatmap(thumb, grid, values, 8).width === thumb.width // true
 */
export function slideHeatmap(thumb: Raster, downsample: number, grid: TileGrid, values: ArrayLike<number>, alpha = 0.5): Raster {
  if (values.length !== grid.tiles.length) throw new ShapeError(`heatmap: ${values.length} values for ${grid.tiles.length} tiles`);
  const out = Uint8Array.from(thumb.data);
  const ch = thumb.channels;
  grid.tiles.forEach((t, i) => {
    const col = ramp(values[i]!);
    const x0 = Math.round(t.x / downsample);
    const y0 = Math.round(t.y / downsample);
    const x1 = Math.min(thumb.width, Math.round((t.x + t.size) / downsample));
    const y1 = Math.min(thumb.height, Math.round((t.y + t.size) / downsample));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const p = (y * thumb.width + x) * ch;
        for (let c = 0; c < ch; c++) out[p + c] = Math.round((1 - alpha) * thumb.data[p + c]! + alpha * col[ch === 3 ? c : 1]);
      }
    }
  });
  return { ...thumb, data: out };
}
