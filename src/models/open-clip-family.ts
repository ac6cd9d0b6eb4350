// The OpenAI/open_clip CLIP family: open_clip hub folders with a native ViT + text transformer, and bare
// OpenAI-format state dicts (CheXzero, CXR-RePaiR) whose architecture is inferred from shapes.
import type { StateDict } from '../checkpoint/types.ts';
import type { PreprocessConfig } from '../image/preprocess.ts';
import { inferOpenAIConfig, parseClipConfig, type ClipConfig } from './clip-config.ts';
import { buildTextGraph, buildVisionGraph } from './clip-towers.ts';
import type { BuiltModel, Family } from './family.ts';
import { Weights } from './weights.ts';

/** OpenAI CLIP's normalisation constants (open_clip `constants.py`). */
export const OPENAI_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

function preprocessFrom(cfg: ClipConfig, pp: Record<string, unknown> | undefined): PreprocessConfig {
  const p = pp ?? {};
  return {
    size: cfg.vision.imageSize,
    mean: (p.mean as [number, number, number]) ?? OPENAI_MEAN,
    std: (p.std as [number, number, number]) ?? OPENAI_STD,
    interpolation: ((p.interpolation as string) ?? 'bicubic') as PreprocessConfig['interpolation'],
    resizeMode: ((p.resize_mode as string) ?? 'shortest') as PreprocessConfig['resizeMode'],
    fillColor: (p.fill_color as number) ?? 0,
  };
}

/** exp(logit_scale); CLIP's initial 1/0.07 when a checkpoint does not carry it. */
export function logitScaleOf(sd: StateDict, key = 'logit_scale'): number {
  const t = sd.get(key);
  if (!t || !(t.data instanceof Float32Array) || t.data.length !== 1) return 1 / 0.07;
  return Math.exp(t.data[0]!);
}

export const openClipFamily: Family = {
  name: 'open_clip',
  matches: (src) => src.format === 'openai' || (src.format === 'open_clip' && !hasCustomTowers(src.config)),
  build(src, sd, overrides): BuiltModel {
    const config = src.format === 'open_clip'
      ? parseClipConfig(src.config!.model_cfg as Record<string, unknown>, src.weightsFile)
      : inferOpenAIConfig(sd, src.weightsFile, overrides);
    const w = new Weights(sd, src.weightsFile);
    const vision = buildVisionGraph(config, w);
    const text = buildTextGraph(config, w);
    // buffers and metadata that carry no weights for the graphs
    w.ignore('logit_scale', 'attn_mask', 'input_resolution', 'context_length', 'vocab_size');
    w.finish(['']);
    const t = config.text;
    return {
      vision,
      text,
      architecture: config as unknown as Record<string, unknown>,
      embedDim: config.embedDim,
      patchTokens: { grid: config.vision.imageSize / config.vision.patchSize, width: config.vision.width },
      textSpec: {
        tokenizer: { kind: 'clip-bpe' },
        contextLength: t.contextLength,
        padId: t.padId,
        cutToEnd: t.causalMask && t.poolType === 'argmax',
        attentionMask: false,
        tokenTypeIds: false,
      },
      preprocess: preprocessFrom(config, src.config?.preprocess_cfg as Record<string, unknown> | undefined),
      score: { kind: 'softmax', logitScale: logitScaleOf(sd) },
    };
  },
};

/** open_clip configs whose towers come from timm or Hugging Face belong to other families. */
function hasCustomTowers(cfg: Record<string, unknown> | undefined): boolean {
  const m = (cfg?.model_cfg ?? {}) as { vision_cfg?: Record<string, unknown>; text_cfg?: Record<string, unknown> };
  return Boolean(m.vision_cfg?.timm_model_name || m.text_cfg?.hf_model_name);
}
