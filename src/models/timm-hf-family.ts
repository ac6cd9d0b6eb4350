// open_clip's CustomTextCLIP with a Hugging Face BERT text tower (open_clip v2.24.0 `model.py`,
// `hf_model.py`, `timm_model.py`): BiomedCLIP, QuiltNet-B-16-PMB (timm ViT image tower) and UniMed-CLIP
// (open_clip's own ViT image tower). Hub folder: open_clip_config.json, open_clip_pytorch_model.bin and the
// tokenizer's vocab.txt or tokenizer.json. Keys: visual.trunk.* + visual.head.proj.weight (timm) or visual.*
// (open_clip ViT), text.transformer.* (BertModel), text.proj.*, logit_scale.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { StateDict } from '../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../errors.ts';
import type { PreprocessConfig } from '../image/preprocess.ts';
import { buildBertTextGraph, resolveBert, type BertConfig, type HfPooler, type HfProj } from './bert.ts';
import { parseClipConfig, type ClipConfig } from './clip-config.ts';
import { buildVisionGraph, type BuiltGraph } from './clip-towers.ts';
import type { BuiltModel, Family } from './family.ts';
import { logitScaleOf, OPENAI_MEAN, OPENAI_STD } from './open-clip-family.ts';
import type { ResolvedSource } from './source.ts';
import { buildTimmVitGraph, resolveTimmVit, type TimmVitConfig } from './timm-vit.ts';
import { Weights } from './weights.ts';

type Json = Record<string, unknown>;

const POOLERS: HfPooler[] = ['cls_last_hidden_state_pooler', 'cls_pooler', 'mean_pooler'];
const PROJS: HfProj[] = ['mlp', 'linear'];
// The config fields this family reads or knows to be training-only (drop rates, pretrained-init flags);
// anything else is an error rather than silently ignored.
const MODEL_KEYS = ['embed_dim', 'vision_cfg', 'text_cfg', 'quick_gelu', 'custom_text', 'init_logit_scale'];
const TIMM_VISION_KEYS = ['timm_model_name', 'timm_model_pretrained', 'timm_pool', 'timm_proj', 'timm_proj_bias', 'timm_drop', 'timm_drop_path', 'patch_dropout', 'image_size', 'width', 'layers', 'head_width', 'patch_size'];
// vocab_size: open_clip takes an HF tower's vocabulary from its own config; the weights give it here
const TEXT_KEYS = ['hf_model_name', 'hf_tokenizer_name', 'hf_proj_type', 'proj', 'hf_pooler_type', 'pooler_type', 'context_length', 'hf_model_pretrained', 'width', 'heads', 'layers', 'vocab_size'];

function checkKeys(o: Json, known: string[], where: string, file: string): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length) throw new UnsupportedError(`${where}: field(s) ${unknown.join(', ')} not supported for an open_clip model with a Hugging Face text tower (known: ${known.join(', ')})`, { file });
}

/** The tokenizer files looked for in the model folder, in order (BiomedCLIP's hub repository has both). */
const VOCAB_FILES = ['vocab.txt', 'tokenizer.json'];

function optNum(o: Json, key: string, where: string, file: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${where}.${key}: expected a positive integer, got ${JSON.stringify(v)}`, { file });
  return v;
}

/** One of the two spellings of a text_cfg field: open_clip >= 2.23 `hf_*`, older hub configs without the prefix. */
function textField(t: Json, key: string, legacy: string, dflt: unknown, file: string): unknown {
  const a = t[key];
  const b = t[legacy];
  if (a !== undefined && b !== undefined && a !== b) throw new ConfigError(`text_cfg.${key} ${JSON.stringify(a)} and text_cfg.${legacy} ${JSON.stringify(b)} disagree`, { file });
  return a !== undefined ? a : b !== undefined ? b : dflt;
}

export interface TimmHfConfig {
  embedDim: number;
  /** a timm ViT, or open_clip's own ViT (the `vision` half of a ClipConfig; its `text` half is unused) */
  vision: { kind: 'timm'; timm: TimmVitConfig } | { kind: 'open_clip'; clip: ClipConfig };
  text: { bert: BertConfig; pooler: HfPooler; proj: HfProj; contextLength: number };
}

/**
 * Read open_clip's model_cfg for a CustomTextCLIP with a BERT text tower, checking it against the weights.
 * open_clip ignores width / layers / head_width / patch_size (vision_cfg) and width / heads / layers
 * (text_cfg) for timm / HF towers; clipmed reads them, when present, as a resized variant of the named model.
 * @example parseTimmHfConfig(cfg.model_cfg, sd, file).text.pooler // 'cls_last_hidden_state_pooler' for BiomedCLIP
 */
export function parseTimmHfConfig(cfg: Json, sd: StateDict, file: string): TimmHfConfig {
  const embedDim = optNum(cfg, 'embed_dim', 'model_cfg', file);
  if (!embedDim) throw new ConfigError('model_cfg.embed_dim is missing', { file });
  const v = (cfg.vision_cfg ?? {}) as Json;
  const t = (cfg.text_cfg ?? {}) as Json;
  const hfName = t.hf_model_name;
  if (typeof hfName !== 'string') throw new ConfigError('text_cfg.hf_model_name is missing', { file });
  checkKeys(cfg, MODEL_KEYS, 'model_cfg', file);
  checkKeys(t, TEXT_KEYS, 'text_cfg', file);

  let vision: TimmHfConfig['vision'];
  if (typeof v.timm_model_name === 'string') {
    checkKeys(v, TIMM_VISION_KEYS, 'vision_cfg', file);
    const pool = v.timm_pool ?? 'avg'; // CLIPVisionCfg's default
    // '' leaves the ViT's own global_pool, 'token'; 'token' names it
    if (pool !== '' && pool !== 'token') throw new UnsupportedError(`vision_cfg.timm_pool '${String(pool)}': supported are '' and 'token' (class token pooling)`, { file });
    if ((v.timm_proj ?? 'linear') !== 'linear') throw new UnsupportedError(`vision_cfg.timm_proj '${String(v.timm_proj)}': only 'linear' is supported`, { file });
    const size = v.image_size;
    if (size !== undefined && typeof size !== 'number') throw new UnsupportedError(`vision_cfg.image_size ${JSON.stringify(size)}: only a square size is supported`, { file });
    const timm = resolveTimmVit(v.timm_model_name, sd, {
      width: optNum(v, 'width', 'vision_cfg', file),
      layers: optNum(v, 'layers', 'vision_cfg', file),
      headWidth: optNum(v, 'head_width', 'vision_cfg', file),
      patchSize: optNum(v, 'patch_size', 'vision_cfg', file),
      imageSize: size,
      projBias: Boolean(v.timm_proj_bias),
    }, file);
    vision = { kind: 'timm', timm };
  } else {
    // open_clip's own ViT (UniMed-CLIP): parsed by the open_clip family's reader with a plain text_cfg
    vision = { kind: 'open_clip', clip: parseClipConfig({ ...cfg, text_cfg: {} }, file) };
  }

  const bert = resolveBert(hfName, sd, { width: optNum(t, 'width', 'text_cfg', file), layers: optNum(t, 'layers', 'text_cfg', file), heads: optNum(t, 'heads', 'text_cfg', file) }, file);
  const pooler = textField(t, 'hf_pooler_type', 'pooler_type', 'mean_pooler', file) as HfPooler;
  if (!POOLERS.includes(pooler)) throw new UnsupportedError(`text_cfg.hf_pooler_type '${String(pooler)}': supported are ${POOLERS.join(', ')}`, { file });
  const projRaw = textField(t, 'hf_proj_type', 'proj', 'mlp', file);
  // open_clip: no projection type and equal widths is an Identity
  const proj: HfProj = projRaw === null && bert.width === embedDim ? 'none' : (projRaw as HfProj);
  if (proj !== 'none' && !PROJS.includes(proj)) throw new UnsupportedError(`text_cfg.hf_proj_type ${JSON.stringify(projRaw)}: supported are ${PROJS.join(', ')} (or null with text width = embed_dim)`, { file });
  const contextLength = optNum(t, 'context_length', 'text_cfg', file) ?? 77; // CLIPTextCfg's default
  if (contextLength > bert.maxPositions) throw new ConfigError(`text_cfg.context_length ${contextLength} exceeds the BERT's ${bert.maxPositions} positions`, { file });
  return { embedDim, vision, text: { bert, pooler, proj, contextLength } };
}

/** The folder's tokenizer_config.json, when present, must describe the BERT tokenizer the family assumes. */
function checkTokenizerConfig(dir: string, lowercase: boolean): void {
  const file = join(dir, 'tokenizer_config.json');
  if (!existsSync(file)) return;
  let j: Json;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (e) {
    throw new ConfigError(`tokenizer_config.json is not valid JSON: ${(e as Error).message}`, { file });
  }
  const cls = j.tokenizer_class;
  if (cls !== undefined && cls !== 'BertTokenizer' && cls !== 'BertTokenizerFast') throw new UnsupportedError(`tokenizer_class '${String(cls)}': only BERT WordPiece tokenizers are supported here`, { file });
  if (typeof j.do_lower_case === 'boolean' && j.do_lower_case !== lowercase) throw new ConfigError(`do_lower_case ${j.do_lower_case}, but the text model is ${lowercase ? 'uncased' : 'cased'}`, { file });
}

function preprocessFrom(imageSize: number, pp: Json | undefined): PreprocessConfig {
  const p = pp ?? {};
  return {
    size: imageSize,
    mean: (p.mean as [number, number, number]) ?? OPENAI_MEAN,
    std: (p.std as [number, number, number]) ?? OPENAI_STD,
    interpolation: ((p.interpolation as string) ?? 'bicubic') as PreprocessConfig['interpolation'],
    resizeMode: ((p.resize_mode as string) ?? 'shortest') as PreprocessConfig['resizeMode'],
    fillColor: (p.fill_color as number) ?? 0,
  };
}

export const timmHfFamily: Family = {
  name: 'open_clip_custom_text',
  matches: (src) => src.format === 'open_clip' && typeof ((src.config?.model_cfg as Json | undefined)?.text_cfg as Json | undefined)?.hf_model_name === 'string',
  build(src: ResolvedSource, sd: StateDict): BuiltModel {
    const file = src.weightsFile;
    const cfg = parseTimmHfConfig(src.config!.model_cfg as Json, sd, file);
    const w = new Weights(sd, file);
    let vision: BuiltGraph;
    let imageSize: number;
    let patchTokens: { grid: number; width: number };
    if (cfg.vision.kind === 'timm') {
      const c = cfg.vision.timm;
      vision = buildTimmVitGraph(c, cfg.embedDim, w);
      imageSize = c.imageSize;
      patchTokens = { grid: c.imageSize / c.patchSize, width: c.width };
    } else {
      const vit = cfg.vision.clip.vision;
      vision = buildVisionGraph(cfg.vision.clip, w);
      imageSize = vit.imageSize;
      patchTokens = { grid: vit.imageSize / vit.patchSize, width: vit.width };
    }
    const t = cfg.text;
    const text = buildBertTextGraph(t.bert, { pooler: t.pooler, proj: t.proj, embedDim: cfg.embedDim }, w);
    // position_ids: an arange buffer older transformers saved with the weights. pooler.*: BertModel's
    // dense + tanh head, which only 'cls_pooler' reads (open_clip builds BERT without it for the other
    // poolers, but checkpoints saved from a BertModel with its pooler carry it).
    w.ignore('logit_scale', 'text.transformer.embeddings.position_ids', 'text.transformer.embeddings.token_type_ids');
    if (t.pooler !== 'cls_pooler') w.ignore('text.transformer.pooler.dense.weight', 'text.transformer.pooler.dense.bias');
    w.finish(['']);

    const dir = dirname(file);
    const vocabFile = VOCAB_FILES.find((f) => existsSync(join(dir, f)));
    if (!vocabFile) {
      const tok = ((src.config!.model_cfg as Json).text_cfg as Json).hf_tokenizer_name ?? t.bert.name;
      throw new ConfigError(`no WordPiece vocabulary in the model folder: expected ${VOCAB_FILES.join(' or ')} (from the Hugging Face repository ${String(tok)})`, { file: dir });
    }
    checkTokenizerConfig(dir, t.bert.lowercase);
    return {
      vision,
      text,
      architecture: {
        embedDim: cfg.embedDim,
        vision: cfg.vision.kind === 'timm'
          ? { ...cfg.vision.timm, tower: 'timm', poolType: 'token' }
          : { ...cfg.vision.clip.vision, tower: 'open_clip', act: cfg.vision.clip.act },
        text: { ...t.bert, tower: 'hf-bert', contextLength: t.contextLength, poolType: t.pooler, proj: t.proj },
      },
      embedDim: cfg.embedDim,
      patchTokens,
      textSpec: {
        tokenizer: { kind: 'wordpiece', vocabFile, lowercase: t.bert.lowercase },
        contextLength: t.contextLength,
        padId: t.bert.padId,
        // the padding mask, not a causal mask, keeps padding out; the batch is fed whole
        cutToEnd: false,
        attentionMask: true,
        tokenTypeIds: false,
      },
      preprocess: preprocessFrom(imageSize, src.config!.preprocess_cfg as Json | undefined),
      score: { kind: 'softmax', logitScale: logitScaleOf(sd) },
    };
  },
};
