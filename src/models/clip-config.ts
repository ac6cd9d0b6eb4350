// The OpenAI/open_clip CLIP architecture as data, read from `open_clip_config.json` (`model_cfg`) or
// inferred from an OpenAI-format state dict's shapes.
// Field names and defaults follow open_clip v2.24.0 `model.py` (CLIPVisionCfg, CLIPTextCfg) and
// `build_model_from_openai_state_dict`.
import type { StateDict } from '../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../errors.ts';

export type Activation = 'gelu' | 'quick_gelu';

export interface VisionConfig {
  imageSize: number;
  patchSize: number;
  width: number;
  layers: number;
  headWidth: number;
  mlpRatio: number;
  layerScale: boolean;
  lnPre: boolean;
  poolType: 'tok' | 'avg';
  finalLnAfterPool: boolean;
}

export interface TextConfig {
  contextLength: number;
  vocabSize: number;
  width: number;
  heads: number;
  layers: number;
  mlpRatio: number;
  layerScale: boolean;
  causalMask: boolean;
  poolType: 'argmax' | 'first' | 'last';
  projBias: boolean;
  padId: number;
}

export interface ClipConfig {
  embedDim: number;
  act: Activation;
  vision: VisionConfig;
  text: TextConfig;
}

type Json = Record<string, unknown>;

function num(obj: Json, key: string, dflt: number | undefined, where: string): number {
  const v = obj[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${where}.${key}: expected a number, got ${JSON.stringify(obj[key])}`);
  return v;
}

function square(v: unknown, where: string): number {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 2 && v[0] === v[1] && typeof v[0] === 'number') return v[0];
  throw new UnsupportedError(`${where}: expected a square size, got ${JSON.stringify(v)}`);
}

/** Fields this implementation does not build yet: an error names them instead of a silently wrong graph. */
const UNSUPPORTED_VISION = ['timm_model_name', 'attentional_pool'];
const UNSUPPORTED_TEXT = ['hf_model_name', 'embed_cls'];

/**
 * Parse open_clip's `model_cfg`.
 * @example parseClipConfig(JSON.parse(readFileSync('open_clip_config.json', 'utf8')).model_cfg).vision.headWidth // 32
 */
export function parseClipConfig(cfg: Json, file = 'open_clip_config.json'): ClipConfig {
  const v = (cfg.vision_cfg ?? {}) as Json;
  const t = (cfg.text_cfg ?? {}) as Json;
  for (const k of UNSUPPORTED_VISION) if (v[k]) throw new UnsupportedError(`vision_cfg.${k} (${JSON.stringify(v[k])}) is not supported by the open_clip ViT builder`, { file });
  for (const k of UNSUPPORTED_TEXT) if (t[k]) throw new UnsupportedError(`text_cfg.${k} (${JSON.stringify(t[k])}) is not supported by the open_clip text builder`, { file });
  return {
    embedDim: num(cfg, 'embed_dim', undefined, 'model_cfg'),
    act: cfg.quick_gelu ? 'quick_gelu' : 'gelu',
    vision: parseOpenClipVision(v, file),
    text: parseOpenClipText(t, file),
  };
}

/** open_clip's CLIPVisionCfg for its own VisionTransformer. */
export function parseOpenClipVision(v: Json, file = 'open_clip_config.json'): VisionConfig {
  if (v.attentional_pool) throw new UnsupportedError(`vision_cfg.attentional_pool (${JSON.stringify(v.attentional_pool)}) is not supported by the open_clip ViT builder`, { file });
  if (typeof v.layers !== 'number') throw new UnsupportedError(`vision_cfg.layers ${JSON.stringify(v.layers)}: only ViT towers (an integer layer count) are supported, not ModifiedResNet`, { file });
  if (v.pos_embed_type !== undefined && v.pos_embed_type !== 'learnable') throw new UnsupportedError(`vision_cfg.pos_embed_type '${v.pos_embed_type}'`, { file });
  const pool = (v.pool_type ?? 'tok') as string;
  if (pool !== 'tok' && pool !== 'avg') throw new UnsupportedError(`vision_cfg.pool_type '${pool}'`, { file });
  return {
    imageSize: square(v.image_size ?? 224, 'vision_cfg.image_size'),
    patchSize: square(v.patch_size ?? 16, 'vision_cfg.patch_size'),
    width: num(v, 'width', 768, 'vision_cfg'),
    layers: num(v, 'layers', 12, 'vision_cfg'),
    headWidth: num(v, 'head_width', 64, 'vision_cfg'),
    mlpRatio: num(v, 'mlp_ratio', 4, 'vision_cfg'),
    layerScale: v.ls_init_value != null,
    lnPre: !v.no_ln_pre,
    poolType: pool as 'tok' | 'avg',
    finalLnAfterPool: Boolean(v.final_ln_after_pool),
  };
}

/** open_clip's CLIPTextCfg for its own TextTransformer. */
export function parseOpenClipText(t: Json, file = 'open_clip_config.json'): TextConfig {
  if (t.embed_cls) throw new UnsupportedError(`text_cfg.embed_cls (${JSON.stringify(t.embed_cls)}) is not supported by the open_clip text builder`, { file });
  const tpool = (t.pool_type ?? 'argmax') as string;
  if (!['argmax', 'first', 'last'].includes(tpool)) throw new UnsupportedError(`text_cfg.pool_type '${tpool}'`, { file });
  return {
    contextLength: num(t, 'context_length', 77, 'text_cfg'),
    vocabSize: num(t, 'vocab_size', 49408, 'text_cfg'),
    width: num(t, 'width', 512, 'text_cfg'),
    heads: num(t, 'heads', 8, 'text_cfg'),
    layers: num(t, 'layers', 12, 'text_cfg'),
    mlpRatio: num(t, 'mlp_ratio', 4, 'text_cfg'),
    layerScale: t.ls_init_value != null,
    causalMask: !t.no_causal_mask,
    poolType: tpool as TextConfig['poolType'],
    projBias: Boolean(t.proj_bias),
    padId: num(t, 'pad_id', 0, 'text_cfg'),
  };
}

/** What shapes cannot tell: head counts. OpenAI's models all use 64-wide heads. */
export interface OpenAIOverrides {
  visionHeadWidth?: number;
  textHeadWidth?: number;
  act?: Activation;
}

/**
 * Infer the architecture of an OpenAI-format state dict (CheXzero, CXR-RePaiR) from its tensor shapes,
 * with OpenAI's defaults: QuickGELU and 64-wide attention heads.
 */
export function inferOpenAIConfig(sd: StateDict, file: string, o: OpenAIOverrides = {}): ClipConfig {
  const shape = (k: string): number[] => {
    const t = sd.get(k);
    if (!t) throw new ConfigError(`not an OpenAI CLIP state dict: key '${k}' is missing`, { file });
    return t.shape;
  };
  if (!sd.has('visual.proj')) throw new UnsupportedError(`no 'visual.proj': ModifiedResNet image towers (RN50, ...) are not supported`, { file });
  const count = (re: RegExp) => new Set([...sd.keys()].map((k) => re.exec(k)?.[1]).filter((x) => x !== undefined)).size;
  const [vWidth, , , patch] = shape('visual.conv1.weight') as [number, number, number, number];
  const grid = Math.round(Math.sqrt(shape('visual.positional_embedding')[0]! - 1));
  const tWidth = shape('ln_final.weight')[0]!;
  const vhw = o.visionHeadWidth ?? 64;
  const thw = o.textHeadWidth ?? 64;
  if (vWidth % vhw !== 0 || tWidth % thw !== 0) {
    throw new ConfigError(`head width does not divide the width (vision ${vWidth}/${vhw}, text ${tWidth}/${thw}); give the head widths explicitly`, { file });
  }
  const mlp = shape('visual.transformer.resblocks.0.mlp.c_fc.weight')[0]! / vWidth;
  return {
    embedDim: shape('text_projection')[1]!,
    act: o.act ?? 'quick_gelu',
    vision: {
      imageSize: patch * grid,
      patchSize: patch,
      width: vWidth,
      layers: count(/^visual\.transformer\.resblocks\.(\d+)\./),
      headWidth: vhw,
      mlpRatio: mlp,
      layerScale: false,
      lnPre: true,
      poolType: 'tok',
      finalLnAfterPool: false,
    },
    text: inferOpenAITextConfig(sd, file, o),
  };
}

/**
 * The text transformer of an OpenAI-format state dict (top-level keys), whatever its image tower: the part of
 * `inferOpenAIConfig` that ModifiedResNet models (RN50, PubMedCLIP's RN50) share with the ViT ones.
 * @example inferOpenAITextConfig(sd, 'RN50.pt').heads // 8
 */
export function inferOpenAITextConfig(sd: StateDict, file: string, o: OpenAIOverrides = {}): TextConfig {
  const shape = (k: string): number[] => {
    const t = sd.get(k);
    if (!t) throw new ConfigError(`not an OpenAI CLIP state dict: key '${k}' is missing`, { file });
    return t.shape;
  };
  const tWidth = shape('ln_final.weight')[0]!;
  const thw = o.textHeadWidth ?? 64;
  if (tWidth % thw !== 0) throw new ConfigError(`head width does not divide the text width (${tWidth}/${thw}); give the head width explicitly`, { file });
  return {
    contextLength: shape('positional_embedding')[0]!,
    vocabSize: shape('token_embedding.weight')[0]!,
    width: tWidth,
    heads: tWidth / thw,
    layers: new Set([...sd.keys()].map((k) => /^transformer\.resblocks\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined)).size,
    mlpRatio: shape('transformer.resblocks.0.mlp.c_fc.weight')[0]! / tWidth,
    layerScale: false,
    causalMask: true,
    poolType: 'argmax',
    projBias: false,
    padId: 0,
  };
}
