// Zero-shot localization heatmaps: the model's patch embeddings (patch tokens projected into the joint
// space, as MaskCLIP does) compared with each prompt, with the mean over the prompts removed (CLIP Surgery's
// remedy for maps that look the same whatever the prompt), min-max scaled, upsampled to the model's input.
import { ConfigError } from '../errors.ts';
import type { Raster } from '../image/types.ts';
import type { ClipModel } from '../node/clip-model.ts';
import { fromFlat } from '../tasks/matrix.ts';
import { overlayHeatmap, promptHeatmaps, upsampleBilinear } from '../tasks/heatmap.ts';

/** Neutral prompts added when the user gives one prompt, so that the shared component can be removed. */
export const REFERENCE_PROMPTS = ['a medical image', 'background'];

export interface Heatmap {
  prompt: string;
  /** [height, width] in [0, 1] over the model's input crop */
  map: Float32Array;
  /** the map had no contrast (every patch scored the same) */
  flat: boolean;
  /** RGB overlay [height, width, 3] on the grey model input */
  overlay: Uint8Array;
}

export interface HeatmapResult {
  width: number;
  height: number;
  /** the prompts compared (the user's, plus reference prompts when only one was given) */
  prompts: string[];
  heatmaps: Heatmap[];
}

/**
 * Heatmaps for one image and the prompts.
 * @example (await heatmaps(model, raster, ['pleural effusion', 'pneumothorax'])).heatmaps[0].map.length // 224 * 224
 */
export async function heatmaps(model: ClipModel, raster: Raster, prompts: string[], alpha = 0.5): Promise<HeatmapResult> {
  if (prompts.length === 0) throw new ConfigError('heatmap: give at least one prompt');
  const all = prompts.length === 1 ? [...prompts, ...REFERENCE_PROMPTS] : prompts;
  const pixels = model.preprocessRasters([raster]); // [1, 3, H, W]
  const cfg = model.meta.preprocess;
  const [height, width] = typeof cfg.size === 'number' ? [cfg.size, cfg.size] : cfg.size;
  const img = await model.embedPixels(pixels, 1, { patchEmbeds: true });
  const text = await model.embedTexts(all, { normalize: true });
  const g = model.meta.patchTokens.grid;
  const { maps, flat } = promptHeatmaps(fromFlat(img.patchEmbeds!, img.dim, 'patch embeddings'), fromFlat(text.embeddings, text.dim), g, g);
  // the picture the model saw (after its resize, crop or padding), as grey under the overlay: the mean of
  // the three normalised channels, scaled to 0..255
  const n = width * height;
  const mean = new Float32Array(n);
  for (let i = 0; i < n; i++) mean[i] = (pixels[i]! + pixels[n + i]! + pixels[2 * n + i]!) / 3;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of mean) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const grey = Uint8Array.from(mean, (v) => (hi > lo ? Math.round((255 * (v - lo)) / (hi - lo)) : 0));
  const out: Heatmap[] = prompts.map((prompt, t) => {
    const map = upsampleBilinear(maps.data.subarray(t * g * g, (t + 1) * g * g), g, g, height, width);
    return { prompt, map, flat: flat[t]!, overlay: overlayHeatmap(grey, map, alpha) };
  });
  return { width, height, prompts: all, heatmaps: out };
}
