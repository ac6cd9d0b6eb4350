// embed --slices: a DICOM series as one study embedding, pooled over the chosen slices (mean or max).
import { chooseSlices, ConfigError, parseWindow, readSeriesVolume, toDisplayRaster, volumeSlice, type ClipModel } from '../index.ts';

/**
 * Embed the chosen slices of the series at `path` and pool them: 'mean' averages the slices' unit embeddings,
 * 'max' takes each dimension's largest; with `normalize` the pooled vector is L2-normalised again.
 */
export async function embedSeries(model: ClipModel, path: string, o: { slices: string; pool?: string; window?: string; normalize?: boolean; batchSize: number }): Promise<{ path: string; embedding: number[]; slices: number[] }> {
  const pool = o.pool ?? 'mean';
  if (pool !== 'mean' && pool !== 'max') throw new ConfigError(`--pool must be mean or max, got '${pool}'`);
  const volume = await readSeriesVolume(path);
  const chosen = chooseSlices(volume.dims[2], o.slices);
  const window = o.window ? parseWindow(o.window) : undefined;
  const rasters = chosen.map((k) => toDisplayRaster(volumeSlice(volume, k), 0, window));
  const r = await model.embedRasters(rasters, { normalize: true, batchSize: o.batchSize });
  const D = r.dim;
  const out = new Array<number>(D).fill(pool === 'max' ? -Infinity : 0);
  for (let i = 0; i < chosen.length; i++) {
    for (let d = 0; d < D; d++) {
      const v = r.embeddings[i * D + d]!;
      out[d] = pool === 'max' ? Math.max(out[d]!, v) : out[d]! + v / chosen.length;
    }
  }
  if (o.normalize) {
    const n = Math.hypot(...out);
    for (let d = 0; d < D; d++) out[d] = out[d]! / n;
  }
  return { path: `${volume.source} (${chosen.length} slice(s), ${pool})`, embedding: out, slices: chosen };
}
