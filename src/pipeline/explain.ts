// Xplainer's descriptor prompts with a loaded model: one text batch holding every disease's positive and
// negative observation prompts, split back into the per-disease embeddings that src/tasks/xplainer.ts scores.
// `clipmed explain` and the server's explain endpoint both build their prompts here.
import type { ClipModelCore as ClipModel } from '../models/clip-model-core.ts';
import { getCxrDescriptors, xplainerPrompts, type DescriptorEmbeddings } from '../tasks/xplainer.ts';

export interface DescriptorPromptSet {
  disease: string;
  prompts: { descriptor: string; positive: string; negative: string }[];
}

/**
 * The observation prompts of each disease from CXR_DESCRIPTORS; an unknown disease is a ConfigError
 * (checked before any model work).
 * @example cxrDescriptorPrompts(['edema'])[0].prompts[1].negative // 'There are no Kerley B lines indicating edema'
 */
export function cxrDescriptorPrompts(diseases: readonly string[]): DescriptorPromptSet[] {
  return diseases.map((d) => ({ disease: d, prompts: xplainerPrompts(d, getCxrDescriptors(d)) }));
}

/** Embed (normalised) every set's positive and negative prompts in one batch, one row per descriptor. */
export async function embedDescriptorPrompts(model: Pick<ClipModel, 'embedTexts'>, sets: readonly DescriptorPromptSet[]): Promise<DescriptorEmbeddings[]> {
  const flat = sets.flatMap((s) => s.prompts.flatMap((p) => [p.positive, p.negative]));
  const e = await model.embedTexts(flat, { normalize: true });
  let at = 0;
  return sets.map((s) => {
    const pos: Float32Array[] = [];
    const neg: Float32Array[] = [];
    for (let k = 0; k < s.prompts.length; k++) {
      pos.push(e.embeddings.slice(at * e.dim, (at + 1) * e.dim));
      neg.push(e.embeddings.slice((at + 1) * e.dim, (at + 2) * e.dim));
      at += 2;
    }
    return { disease: s.disease, descriptors: s.prompts.map((p) => p.descriptor), positive: pos, negative: neg };
  });
}
