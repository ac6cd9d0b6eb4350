// What `clipmed train --model` starts from: any source `embed` takes whose towers are open_clip's own ViT and
// text transformer (an open_clip folder, a registered name, `hf-hub:`, an OpenAI-format state dict), or an
// open_clip model config JSON (`{"embed_dim", "vision_cfg", "text_cfg"}`) initialised as open_clip does.
import { readFile, stat } from 'node:fs/promises';
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../../errors.ts';
import type { PreprocessConfig } from '../../image/preprocess.ts';
import { inferOpenAIConfig, parseClipConfig, type ClipConfig } from '../../models/clip-config.ts';
import { openClipPreprocess } from '../../models/readers/open-clip.ts';
import { openClipInit } from '../../train/init.ts';
import type { LossKind } from '../../train/train-graph.ts';
import { readCheckpoint } from '../checkpoint-files.ts';
import { resolveModelSource } from '../resolve.ts';

type Json = Record<string, unknown>;

export interface TrainSource {
  cfg: ClipConfig;
  /** open_clip's model_cfg, written to the output's open_clip_config.json */
  modelCfg: Json;
  /** open_clip's preprocess_cfg */
  preprocessCfg: Json;
  preprocess: PreprocessConfig;
  weights: StateDict;
  /** 'config' when initialised from a config, else the resolved source's format */
  origin: 'config' | 'open_clip' | 'openai';
}

/** open_clip's model_cfg for a ClipConfig (the fields open_clip v2.24.0 CLIPVisionCfg / CLIPTextCfg read). */
export function modelCfgOf(cfg: ClipConfig): Json {
  const v = cfg.vision;
  const t = cfg.text;
  return {
    embed_dim: cfg.embedDim,
    quick_gelu: cfg.act === 'quick_gelu',
    vision_cfg: { image_size: v.imageSize, patch_size: v.patchSize, width: v.width, layers: v.layers, head_width: v.headWidth, mlp_ratio: v.mlpRatio, no_ln_pre: !v.lnPre, pool_type: v.poolType, final_ln_after_pool: v.finalLnAfterPool },
    text_cfg: { context_length: t.contextLength, vocab_size: t.vocabSize, width: t.width, heads: t.heads, layers: t.layers, mlp_ratio: t.mlpRatio, no_causal_mask: !t.causalMask, pool_type: t.poolType, proj_bias: t.projBias, pad_id: t.padId },
  };
}

function checkOwnTowers(modelCfg: Json, file: string): void {
  const v = (modelCfg.vision_cfg ?? {}) as Json;
  const t = (modelCfg.text_cfg ?? {}) as Json;
  if (v.timm_model_name || t.hf_model_name) throw new UnsupportedError('training supports open_clip\'s own ViT and text transformer; this model has a timm or Hugging Face tower', { file });
}

/** Load or initialise the model to train. `seed` draws a fresh initialisation. */
export async function loadTrainSource(model: string, o: { seed: number; loss: LossKind; log?: (m: string) => void }): Promise<TrainSource> {
  let src: TrainSource;
  const isJsonFile = /\.json$/i.test(model) && (await stat(model).then((s) => s.isFile(), () => false));
  if (isJsonFile) {
    let json: Json;
    try {
      json = JSON.parse(await readFile(model, 'utf8')) as Json;
    } catch (e) {
      throw new ConfigError(`not a JSON model config: ${(e as Error).message}`, { file: model });
    }
    const modelCfg = (json.model_cfg ?? json) as Json;
    if (typeof modelCfg.embed_dim !== 'number' || !modelCfg.vision_cfg || !modelCfg.text_cfg) {
      throw new ConfigError('an open_clip model config needs embed_dim, vision_cfg and text_cfg', { file: model });
    }
    checkOwnTowers(modelCfg, model);
    const cfg = parseClipConfig(modelCfg, model);
    const weights = openClipInit(cfg, o.seed, {
      initLogitScale: typeof modelCfg.init_logit_scale === 'number' ? modelCfg.init_logit_scale : undefined,
      initLogitBias: typeof modelCfg.init_logit_bias === 'number' ? modelCfg.init_logit_bias : undefined,
    });
    const preprocessCfg = ((json.preprocess_cfg ?? {}) as Json);
    src = { cfg, modelCfg: { ...modelCfg }, preprocessCfg, preprocess: openClipPreprocess(cfg.vision.imageSize, preprocessCfg), weights, origin: 'config' };
  } else {
    const { source } = await resolveModelSource(model, { log: o.log });
    if (source.format === 'hf') throw new UnsupportedError('training from a transformers folder is not supported; use an open_clip folder, an OpenAI state dict or an open_clip config', { file: source.weightsFile });
    const weights = await readCheckpoint(source.weightsFile);
    if (source.format === 'open_clip') {
      const modelCfg = source.config!.model_cfg as Json;
      checkOwnTowers(modelCfg, source.weightsFile);
      const cfg = parseClipConfig(modelCfg, source.weightsFile);
      const preprocessCfg = (source.config!.preprocess_cfg ?? {}) as Json;
      src = { cfg, modelCfg: { ...modelCfg }, preprocessCfg, preprocess: openClipPreprocess(cfg.vision.imageSize, preprocessCfg), weights, origin: 'open_clip' };
    } else {
      const cfg = inferOpenAIConfig(weights, source.weightsFile);
      src = { cfg, modelCfg: modelCfgOf(cfg), preprocessCfg: {}, preprocess: openClipPreprocess(cfg.vision.imageSize, {}), weights, origin: 'openai' };
    }
    if (!weights.has('logit_scale')) weights.set('logit_scale', { dtype: 'float32', shape: [], data: Float32Array.of(Math.log(1 / 0.07)) });
  }
  if (o.loss === 'siglip' && !src.weights.has('logit_bias')) {
    // open_clip's SigLIP configs start from init_logit_bias = -10
    const bias = typeof src.modelCfg.init_logit_bias === 'number' ? src.modelCfg.init_logit_bias : -10;
    o.log?.(`the model has no logit_bias: starting the SigLIP bias at ${bias}`);
    src.weights.set('logit_bias', { dtype: 'float32', shape: [], data: Float32Array.of(bias) });
  }
  // open_clip creates the logit_bias parameter only when model_cfg says so; the saved folder must load there
  if (src.weights.has('logit_bias') && typeof src.modelCfg.init_logit_bias !== 'number') src.modelCfg.init_logit_bias = Number(src.weights.get('logit_bias')!.data[0]);
  return src;
}
