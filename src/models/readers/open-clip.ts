// Readers for open_clip's formats: a hub folder with `open_clip_config.json` (open_clip v2.24.0 `factory.py`
// `create_model`: CLIP or CustomTextCLIP from `model_cfg`, towers chosen from `vision_cfg` / `text_cfg` by
// `_build_vision_tower` / `_build_text_tower`), and a bare OpenAI-format state dict (CheXzero, CXR-RePaiR)
// whose architecture is inferred from tensor shapes. Both take bytes and tensors, never a path.
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../../errors.ts';
import type { PreprocessConfig } from '../../image/preprocess.ts';
import { inferOpenAIConfig, inferOpenAITextConfig, type OpenAIOverrides } from '../clip-config.ts';
import type { TextSpec } from '../family.ts';
import { logitScaleOf, OPENAI_MEAN, OPENAI_STD } from '../open-clip-family.ts';
import { readText, type ModelFiles, type ModelSpec, type SpecFile, type TowerSpec } from '../spec.ts';
import { checkBertTokenizerConfig, checkCustomTextModelKeys, WORDPIECE_VOCAB_FILES } from '../timm-hf-family.ts';
import '../towers/builtin.ts';
import { inferModifiedResNetConfig } from '../towers/modified-resnet.ts';
import { getTower, openClipTowerFor, type OpenClipContext } from '../towers/registry.ts';

type Json = Record<string, unknown>;

/** Weights files of an open_clip hub folder, in order of preference. */
export const OPEN_CLIP_WEIGHTS = ['open_clip_model.safetensors', 'open_clip_pytorch_model.bin'];
/** Checkpoint entries of open_clip / OpenAI state dicts that are not graph weights. */
const OPEN_CLIP_NON_WEIGHTS = ['logit_scale', 'attn_mask', 'input_resolution', 'context_length', 'vocab_size'];

/** open_clip's preprocess_cfg (open_clip `transform.py` PreprocessCfg defaults) at the tower's image size. */
export function openClipPreprocess(imageSize: number, pp: Json | undefined): PreprocessConfig {
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

/** The parsed `open_clip_config.json` of `files`, checked to have a `model_cfg`. */
export function openClipConfig(files: ModelFiles): Json {
  const file = `${files.dir}/open_clip_config.json`;
  const text = readText(files, 'open_clip_config.json');
  if (text === undefined) throw new ConfigError('no open_clip_config.json', { file: files.dir });
  let config: Json;
  try {
    config = JSON.parse(text) as Json;
  } catch (e) {
    throw new ConfigError(`open_clip_config.json is not valid JSON: ${(e as Error).message}`, { file });
  }
  if (typeof config.model_cfg !== 'object' || config.model_cfg === null) throw new ConfigError('open_clip_config.json has no model_cfg', { file });
  return config;
}

/** The text tower's `hf_tokenizer_name` (open_clip takes a Hugging Face tokenizer from that repository). */
export function hfTokenizerName(config: Json): string | undefined {
  const t = ((config.model_cfg as Json).text_cfg ?? {}) as Json;
  const name = t.hf_tokenizer_name ?? t.hf_model_name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * The files an open_clip model needs, from its config alone (before anything else is downloaded): the config,
 * the weights, and for a Hugging Face text tower its vocabulary, taken from the model's own repository when
 * it has one, else from the `hf_tokenizer_name` repository.
 */
export function openClipFiles(config: Json, modelHasVocab = true): ModelSpec['files'] {
  const tokenizer: SpecFile[] = [];
  const hfTok = typeof (((config.model_cfg as Json).text_cfg ?? {}) as Json).hf_model_name === 'string' ? hfTokenizerName(config) : undefined;
  if (hfTok) {
    const repo = modelHasVocab ? undefined : hfTok;
    tokenizer.push({ name: WORDPIECE_VOCAB_FILES[0]!, oneOf: [...WORDPIECE_VOCAB_FILES], ...(repo ? { repo } : {}) });
    tokenizer.push({ name: 'tokenizer_config.json', optional: true, ...(repo ? { repo } : {}) });
  }
  return { config: [{ name: 'open_clip_config.json' }], weights: [{ name: OPEN_CLIP_WEIGHTS[0]!, oneOf: [...OPEN_CLIP_WEIGHTS] }], tokenizer };
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The text spec of an open_clip text tower (CLIP BPE), or of a BERT with the vocabulary found in `vocab`. */
function textSpecOf(text: TowerSpec, vocab: ModelFiles, tokenizerRepo: string | undefined, fromTokenizerRepo: boolean, file: string): TextSpec {
  const c = text.config as Json;
  if (text.kind === 'open_clip-text') {
    return { tokenizer: { kind: 'clip-bpe' }, contextLength: c.contextLength as number, padId: c.padId as number, cutToEnd: Boolean(c.causalMask) && c.poolType === 'argmax', attentionMask: false, tokenTypeIds: false };
  }
  if (text.kind === 'open_clip-coca-text') {
    // CoCa: the class token is appended after the tokenizer's context_length ids and its position depends on the
    // length, so a batch is fed whole
    return { tokenizer: { kind: 'clip-bpe' }, contextLength: (c.contextLength as number) - 1, padId: c.padId as number, cutToEnd: false, attentionMask: false, tokenTypeIds: false };
  }
  if (text.kind === 'hf-bert') {
    const vocabFile = WORDPIECE_VOCAB_FILES.find((f) => vocab.names.includes(f));
    if (!vocabFile) {
      throw new ConfigError(`no WordPiece vocabulary in the model folder: expected ${WORDPIECE_VOCAB_FILES.join(' or ')} (from the Hugging Face repository ${String(tokenizerRepo ?? c.name)})`, { file: vocab.dir });
    }
    checkBertTokenizerConfig(readText(vocab, 'tokenizer_config.json'), Boolean(c.lowercase), `${vocab.dir}/tokenizer_config.json`);
    return {
      tokenizer: { kind: 'wordpiece', vocabFile, lowercase: Boolean(c.lowercase), ...(fromTokenizerRepo && tokenizerRepo ? { repo: tokenizerRepo } : {}) },
      contextLength: c.contextLength as number,
      padId: c.padId as number,
      // the padding mask, not a causal mask, keeps padding out; the batch is fed whole
      cutToEnd: false,
      attentionMask: true,
      tokenTypeIds: false,
    };
  }
  throw new UnsupportedError(`no tokenizer is known for text tower '${text.kind}' in an open_clip config`, { file });
}

function describe(t: TowerSpec): Record<string, unknown> {
  const c = { ...(t.config as Json) };
  delete c.embedDim;
  switch (t.kind) {
    case 'open_clip-vit': case 'open_clip-text': return { ...c, tower: 'open_clip' };
    case 'timm-vit': return { ...c, tower: 'timm', poolType: 'token' };
    case 'hf-bert': return { ...c, tower: 'hf-bert', poolType: c.pooler };
    default: return { ...c, tower: t.kind };
  }
}

export interface OpenClipReadInput {
  /** the model's files (open_clip_config.json, tokenizer files) */
  files: ModelFiles;
  /** where the weights came from, for messages */
  weightsFile: string;
  sd: StateDict;
  /** a second repository's files holding the tokenizer (open_clip's hf_tokenizer_name), when the model's own lack it */
  tokenizerFiles?: ModelFiles;
}

/** open_clip's `logit_bias` (CLIP with init_logit_bias, SigLIP-style), when the checkpoint has one. */
function sigmoidBiasOf(sd: StateDict): number | undefined {
  const t = sd.get('logit_bias');
  return t && t.data instanceof Float32Array && t.data.length === 1 ? t.data[0]! : undefined;
}

/**
 * A model spec from an open_clip folder's files and weights: any registered vision tower with any registered
 * text tower.
 * @example readOpenClipSpec({ files, weightsFile, sd }).vision.kind // 'timm-vit' for BiomedCLIP
 */
export function readOpenClipSpec(input: OpenClipReadInput): ModelSpec {
  const { files, sd, weightsFile: file } = input;
  const config = openClipConfig(files);
  const cfg = config.model_cfg as Json;
  const v = (cfg.vision_cfg ?? {}) as Json;
  const t = (cfg.text_cfg ?? {}) as Json;
  const embedDim = cfg.embed_dim;
  if (typeof embedDim !== 'number' || !Number.isInteger(embedDim) || embedDim <= 0) throw new ConfigError(`model_cfg.embed_dim: expected a positive integer, got ${JSON.stringify(embedDim)}`, { file });
  const hfText = typeof t.hf_model_name === 'string';
  if (hfText) checkCustomTextModelKeys(cfg, file);
  const vTower = openClipTowerFor('vision', v);
  if (!vTower) throw new UnsupportedError(`no registered vision tower builds vision_cfg ${JSON.stringify(v)}`, { file });
  const tTower = openClipTowerFor('text', t);
  if (!tTower) throw new UnsupportedError(`no registered text tower builds text_cfg ${JSON.stringify(t)}`, { file });
  // CustomTextCLIP keeps its text tower under `text.`; CLIP has the text transformer's keys at the top level
  const textPrefix = hfText || cfg.custom_text ? 'text.' : '';
  const ctx: Omit<OpenClipContext, 'prefix'> = { embedDim, quickGelu: Boolean(cfg.quick_gelu), modelCfg: cfg, sd, file };
  const vision: TowerSpec = { kind: vTower.kind, config: vTower.openClip!.config(v, { ...ctx, prefix: 'visual.' }), prefix: 'visual.' };
  const text: TowerSpec = { kind: tTower.kind, config: tTower.openClip!.config(t, { ...ctx, prefix: textPrefix }), prefix: textPrefix };

  const tokRepo = hfText ? hfTokenizerName(config) : undefined;
  const ownVocab = WORDPIECE_VOCAB_FILES.some((f) => files.names.includes(f));
  const vocab = !ownVocab && input.tokenizerFiles ? input.tokenizerFiles : files;
  const tokenizer = textSpecOf(text, vocab, tokRepo, vocab !== files, files.dir);
  const imageSize = (vision.config as Json).imageSize;
  if (typeof imageSize !== 'number') throw new UnsupportedError(`vision tower '${vision.kind}' does not state a square imageSize`, { file });
  const fileList = openClipFiles(config, ownVocab || !input.tokenizerFiles);
  fileList.weights = [{ name: baseName(file) }];
  // one activation for the whole model only when both towers are open_clip's (timm and BERT keep exact GELU)
  const usesOpenClipAct = vision.kind === 'open_clip-vit' && text.kind === 'open_clip-text';
  return {
    format: 'open_clip',
    family: hfText ? 'open_clip_custom_text' : 'open_clip',
    embedDim,
    vision,
    text,
    patchTokens: getTower(vision.kind, 'vision').patchTokens!(vision.config),
    tokenizer,
    preprocess: openClipPreprocess(imageSize, config.preprocess_cfg as Json | undefined),
    // SigLIP-style open_clip models (init_logit_bias) carry a learned logit_bias and score with the sigmoid
    scoring: sigmoidBiasOf(sd) === undefined ? { kind: 'softmax', logitScale: logitScaleOf(sd) } : { kind: 'sigmoid', logitScale: logitScaleOf(sd), logitBias: sigmoidBiasOf(sd)! },
    // CoCa's captioning decoder (text_decoder.*) is not part of the two towers
    ignoredKeys: [...OPEN_CLIP_NON_WEIGHTS, 'logit_bias', ...[...sd.keys()].filter((k) => k.startsWith('text_decoder.'))],
    files: fileList,
    architecture: { embedDim, ...(usesOpenClipAct ? { act: cfg.quick_gelu ? 'quick_gelu' : 'gelu' } : {}), vision: describe(vision), text: { ...describe(text), contextLength: tokenizer.contextLength } },
  };
}

/**
 * A model spec from a bare OpenAI-format state dict: open_clip's ViT (or, without `visual.proj`, the
 * ModifiedResNet of OpenAI's RN50/RN101/RN50x4 models and PubMedCLIP's RN50) and text transformer, sizes from
 * shapes (open_clip v2.24.0 `build_model_from_openai_state_dict`).
 * @example readOpenAISpec(sd, 'chexzero.pt').architecture.act // 'quick_gelu'
 */
export function readOpenAISpec(sd: StateDict, weightsFile: string, overrides: OpenAIOverrides = {}): ModelSpec {
  const resnet = !sd.has('visual.proj') && sd.has('visual.attnpool.positional_embedding');
  const act = overrides.act ?? 'quick_gelu';
  let vision: TowerSpec;
  let t: ReturnType<typeof inferOpenAITextConfig>;
  let embedDim: number;
  let imageSize: number;
  let architecture: Record<string, unknown>;
  if (resnet) {
    const rn = inferModifiedResNetConfig(sd, weightsFile);
    t = inferOpenAITextConfig(sd, weightsFile, overrides);
    embedDim = rn.embedDim;
    imageSize = rn.imageSize;
    vision = { kind: 'open_clip-modified-resnet', config: { ...rn }, prefix: 'visual.' };
    architecture = { embedDim, act, vision: { ...rn, tower: 'open_clip-modified-resnet' }, text: t };
  } else {
    const cfg = inferOpenAIConfig(sd, weightsFile, overrides);
    t = cfg.text;
    embedDim = cfg.embedDim;
    imageSize = cfg.vision.imageSize;
    vision = { kind: 'open_clip-vit', config: { ...cfg.vision, act: cfg.act, embedDim: cfg.embedDim }, prefix: 'visual.' };
    architecture = cfg as unknown as Record<string, unknown>;
  }
  const text: TowerSpec = { kind: 'open_clip-text', config: { ...t, act, embedDim }, prefix: '' };
  return {
    format: 'openai',
    family: 'open_clip',
    embedDim,
    vision,
    text,
    patchTokens: getTower(vision.kind, 'vision').patchTokens!(vision.config),
    tokenizer: { tokenizer: { kind: 'clip-bpe' }, contextLength: t.contextLength, padId: t.padId, cutToEnd: t.causalMask && t.poolType === 'argmax', attentionMask: false, tokenTypeIds: false },
    preprocess: openClipPreprocess(imageSize, undefined),
    scoring: { kind: 'softmax', logitScale: logitScaleOf(sd) },
    ignoredKeys: OPEN_CLIP_NON_WEIGHTS,
    files: { config: [], weights: [{ name: baseName(weightsFile) }], tokenizer: [] },
    architecture,
  };
}
