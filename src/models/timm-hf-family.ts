// Reading open_clip's CustomTextCLIP configs with a Hugging Face BERT text tower (open_clip v2.24.0 `model.py`,
// `hf_model.py`, `timm_model.py`): BiomedCLIP, QuiltNet-B-16-PMB (timm ViT image tower) and UniMed-CLIP
// (open_clip's own ViT image tower). Hub folder: open_clip_config.json, open_clip_pytorch_model.bin and the
// tokenizer's vocab.txt or tokenizer.json. Keys: visual.trunk.* + visual.head.proj.weight (timm) or visual.*
// (open_clip ViT), text.transformer.* (BertModel), text.proj.*, logit_scale.
import type { StateDict } from '../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../errors.ts';
import { resolveBert, type BertConfig, type HfPooler, type HfProj } from './bert.ts';
import { parseClipConfig, type ClipConfig } from './clip-config.ts';
import { resolveTimmVit, type TimmVitConfig } from './timm-vit.ts';

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
 * open_clip's `vision_cfg` naming a timm ViT, checked against the weights under `prefix` + `trunk.`.
 * @example readTimmVisionCfg(cfg.model_cfg.vision_cfg, sd, file).heads // 12 for BiomedCLIP
 */
export function readTimmVisionCfg(v: Json, sd: StateDict, file: string, prefix = 'visual.'): TimmVitConfig {
  checkKeys(v, TIMM_VISION_KEYS, 'vision_cfg', file);
  const pool = v.timm_pool ?? 'avg'; // CLIPVisionCfg's default
  // '' leaves the ViT's own global_pool, 'token'; 'token' names it
  if (pool !== '' && pool !== 'token') throw new UnsupportedError(`vision_cfg.timm_pool '${String(pool)}': supported are '' and 'token' (class token pooling)`, { file });
  if ((v.timm_proj ?? 'linear') !== 'linear') throw new UnsupportedError(`vision_cfg.timm_proj '${String(v.timm_proj)}': only 'linear' is supported`, { file });
  const size = v.image_size;
  if (size !== undefined && typeof size !== 'number') throw new UnsupportedError(`vision_cfg.image_size ${JSON.stringify(size)}: only a square size is supported`, { file });
  return resolveTimmVit(String(v.timm_model_name), sd, {
    width: optNum(v, 'width', 'vision_cfg', file),
    layers: optNum(v, 'layers', 'vision_cfg', file),
    headWidth: optNum(v, 'head_width', 'vision_cfg', file),
    patchSize: optNum(v, 'patch_size', 'vision_cfg', file),
    imageSize: size,
    projBias: Boolean(v.timm_proj_bias),
  }, file, `${prefix}trunk.`);
}

/**
 * open_clip's `text_cfg` naming a Hugging Face BERT (HFTextEncoder), checked against the weights under
 * `prefix` + `transformer.`.
 * @example readBertTextCfg(cfg.model_cfg.text_cfg, 512, sd, file).pooler // 'cls_last_hidden_state_pooler' for BiomedCLIP
 */
export function readBertTextCfg(t: Json, embedDim: number, sd: StateDict, file: string, prefix = 'text.'): { bert: BertConfig; pooler: HfPooler; proj: HfProj; contextLength: number } {
  const hfName = t.hf_model_name;
  if (typeof hfName !== 'string') throw new ConfigError('text_cfg.hf_model_name is missing', { file });
  checkKeys(t, TEXT_KEYS, 'text_cfg', file);
  const bert = resolveBert(hfName, sd, { width: optNum(t, 'width', 'text_cfg', file), layers: optNum(t, 'layers', 'text_cfg', file), heads: optNum(t, 'heads', 'text_cfg', file) }, file, `${prefix}transformer.`);
  const pooler = textField(t, 'hf_pooler_type', 'pooler_type', 'mean_pooler', file) as HfPooler;
  if (!POOLERS.includes(pooler)) throw new UnsupportedError(`text_cfg.hf_pooler_type '${String(pooler)}': supported are ${POOLERS.join(', ')}`, { file });
  const projRaw = textField(t, 'hf_proj_type', 'proj', 'mlp', file);
  // open_clip: no projection type and equal widths is an Identity
  const proj: HfProj = projRaw === null && bert.width === embedDim ? 'none' : (projRaw as HfProj);
  if (proj !== 'none' && !PROJS.includes(proj)) throw new UnsupportedError(`text_cfg.hf_proj_type ${JSON.stringify(projRaw)}: supported are ${PROJS.join(', ')} (or null with text width = embed_dim)`, { file });
  const contextLength = optNum(t, 'context_length', 'text_cfg', file) ?? 77; // CLIPTextCfg's default
  if (contextLength > bert.maxPositions) throw new ConfigError(`text_cfg.context_length ${contextLength} exceeds the BERT's ${bert.maxPositions} positions`, { file });
  return { bert, pooler, proj, contextLength };
}

/** The model_cfg fields an open_clip model with a Hugging Face text tower may have. */
export function checkCustomTextModelKeys(cfg: Json, file: string): void {
  checkKeys(cfg, MODEL_KEYS, 'model_cfg', file);
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
  if (typeof t.hf_model_name !== 'string') throw new ConfigError('text_cfg.hf_model_name is missing', { file });
  checkKeys(cfg, MODEL_KEYS, 'model_cfg', file);
  checkKeys(t, TEXT_KEYS, 'text_cfg', file);
  const vision: TimmHfConfig['vision'] = typeof v.timm_model_name === 'string'
    ? { kind: 'timm', timm: readTimmVisionCfg(v, sd, file) }
    // open_clip's own ViT (UniMed-CLIP): parsed by the open_clip reader with a plain text_cfg
    : { kind: 'open_clip', clip: parseClipConfig({ ...cfg, text_cfg: {} }, file) };
  return { embedDim, vision, text: readBertTextCfg(t, embedDim, sd, file) };
}

/** The vocabulary files looked for, in order (BiomedCLIP's hub repository has both). */
export const WORDPIECE_VOCAB_FILES = VOCAB_FILES;

/** The folder's tokenizer_config.json, when present, must describe the BERT tokenizer the model assumes. */
export function checkBertTokenizerConfig(text: string | undefined, lowercase: boolean, file: string): void {
  if (text === undefined) return;
  let j: Json;
  try {
    j = JSON.parse(text) as Json;
  } catch (e) {
    throw new ConfigError(`tokenizer_config.json is not valid JSON: ${(e as Error).message}`, { file });
  }
  const cls = j.tokenizer_class;
  if (cls !== undefined && cls !== 'BertTokenizer' && cls !== 'BertTokenizerFast') throw new UnsupportedError(`tokenizer_class '${String(cls)}': only BERT WordPiece tokenizers are supported here`, { file });
  if (typeof j.do_lower_case === 'boolean' && j.do_lower_case !== lowercase) throw new ConfigError(`do_lower_case ${j.do_lower_case}, but the text model is ${lowercase ? 'uncased' : 'cased'}`, { file });
}
