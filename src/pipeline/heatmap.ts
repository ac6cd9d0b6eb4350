// Zero-shot localization heatmaps: the model's patch embeddings (patch tokens projected into the joint
// space, as MaskCLIP does) compared with each prompt, with the mean over the prompts removed (CLIP Surgery's
// remedy for maps that look the same whatever the prompt), min-max scaled, upsampled to the model's input.
import { ConfigError } from '../errors.ts';
import { preprocessRaster } from '../image/preprocess.ts';
import type { Raster } from '../image/types.ts';
import type { ClipModel } from '../models/clip-model.ts';
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
  const cfg = model.meta.preprocess;
  const [height, width] = typeof cfg.size === 'number' ? [cfg.size, cfg.size] : cfg.size;
  const img = await model.embedRasters([raster], { patchEmbeds: true });
  const text = await model.embedTexts(all, { normalize: true });
  const g = model.meta.patchTokens.grid;
  const { maps, flat } = promptHeatmaps(fromFlat(img.patchEmbeds!, img.dim, 'patch embeddings'), fromFlat(text.embeddings, text.dim), g, g);
  // the grey picture the model saw (after resize and crop), under the overlay
  const rgb = preprocessRaster(raster, cfg);
  const grey = new Uint8Array(width * height);
  for (let i = 0; i < grey.length; i++) grey[i] = Math.round((rgb[3 * i]! + rgb[3 * i + 1]! + rgb[3 * i + 2]!) / 3);
  const out: Heatmap[] = prompts.map((prompt, t) => {
    const map = upsampleBilinear(maps.data.subarray(t * g * g, (t + 1) * g * g), g, g, height, width);
    return { prompt, map, flat: flat[t]!, overlay: overlayHeatmap(grey, map, alpha) };
  });
  return { width, height, prompts: all, heatmaps: out };
}
