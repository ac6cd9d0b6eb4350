// The reader for CONCH's published layout (Lu et al., Nature Medicine 2024; github:mahmoodlab/CONCH, commit 141cc09).
// The hub repository MahmoodLab/conch holds `meta.yaml` and `pytorch_model.bin`: CONCH's factory.py
// (`create_model(..., checkpoint_path='hf_hub:MahmoodLab/conch')`) downloads both, reads the second as a state
// dict (unwrapping `state_dict` and a `module.` prefix) and builds `CoCa(**model_cfg)` from
// `conch/open_clip_custom/model_configs/conch_ViT-B-16.json`, a file of the Python package, not of the hub. That
// architecture is carried here as data (CONCH_VIT_B_16); a folder may carry another as `conch_model_cfg.json`
// (CONCH's create_model takes a model_cfg dict the same way). The tokenizer (custom_tokenizer.py) is the
// package's byte-level BPE `conch_byte_level_bpe_uncased.json`: the model's folder's own, else the published file
// (CONCH_TOKENIZER_URL, fetched on the Node side by src/node/conch-source.ts).
import type { StateDict } from '../../checkpoint/types.ts';
import { CheckpointError, ConfigError } from '../../errors.ts';
import type { Json } from '../hf-config.ts';
import { readText, type ModelFiles, type ModelSpec } from '../spec.ts';
import { conchConfigs } from '../towers/coca.ts';
import '../towers/builtin.ts';

/** CONCH's files: the hub repository's two, the package's tokenizer, and an optional architecture of its own. */
export const CONCH_FILES = {
  meta: 'meta.yaml',
  weights: 'pytorch_model.bin',
  tokenizer: 'conch_byte_level_bpe_uncased.json',
  modelCfg: 'conch_model_cfg.json',
} as const;

/**
 * CONCH's tokenizer as published: the package file in its repository at the commit this reader follows
 * (sha256 a3861e67c64d32670eb6725a8e52d7dbdd2a06646a4a3c7463052ae7110760fb, 32007 ids).
 */
export const CONCH_TOKENIZER_URL = 'https://raw.githubusercontent.com/mahmoodlab/CONCH/141cc09c7d4ff33d8eda562bd75169b457f71a62/conch/open_clip_custom/tokenizers/conch_byte_level_bpe_uncased.json';

/** CONCH's model_cfg `conch_ViT-B-16` (conch/open_clip_custom/model_configs/conch_ViT-B-16.json at commit 141cc09). */
export const CONCH_VIT_B_16 = {
  embed_dim: 512,
  embed_dim_caption: 768,
  vision_cfg: {
    image_size: 448, patch_size: 16, attentional_pool_caption: true, attentional_pool_contrast: true, attn_pooler_heads: 8,
    n_queries_contrast: 1, n_queries_caption: 256, output_tokens: true,
  },
  text_cfg: { context_length: 128, vocab_size: 32007, width: 768, heads: 12, layers: 12, embed_cls: true, output_tokens: true },
  multimodal_cfg: { context_length: 128, vocab_size: 32007, width: 768, heads: 12, layers: 12 },
  custom_text: true,
} as const;

/** CONCH's image normalisation: create_model sets OpenAI's mean and std on the visual tower, which image_transform then uses. */
const OPENAI_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** The files a CONCH model needs. */
export function conchFiles(): ModelSpec['files'] {
  return {
    config: [{ name: CONCH_FILES.meta }, { name: CONCH_FILES.modelCfg, optional: true }],
    weights: [{ name: CONCH_FILES.weights }],
    tokenizer: [{ name: CONCH_FILES.tokenizer }],
  };
}

/** Whether a folder's file names are CONCH's layout (meta.yaml beside pytorch_model.bin, no other model config). */
export function isConchLayout(names: readonly string[]): boolean {
  return names.includes(CONCH_FILES.meta) && names.includes(CONCH_FILES.weights) && !names.includes('config.json') && !names.includes('open_clip_config.json');
}

/** The model_cfg of a CONCH folder: its own conch_model_cfg.json, else conch_ViT-B-16. */
export function conchModelCfg(files: ModelFiles): { cfg: Json; text: string; file: string } {
  const own = readText(files, CONCH_FILES.modelCfg);
  if (own === undefined) return { cfg: CONCH_VIT_B_16 as unknown as Json, text: JSON.stringify(CONCH_VIT_B_16), file: 'conch_ViT-B-16.json (carried by clipmed)' };
  const file = `${files.dir}/${CONCH_FILES.modelCfg}`;
  try {
    const cfg = JSON.parse(own) as unknown;
    if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new Error('not a JSON object');
    return { cfg: cfg as Json, text: own, file };
  } catch (e) {
    throw new ConfigError(`${CONCH_FILES.modelCfg} is not a valid JSON object: ${(e as Error).message}`, { file });
  }
}

/**
 * A model spec from a CONCH folder's files and the tensors of its pytorch_model.bin.
 * Text: CONCH's `tokenize` gives 127 ids (max_length=127, truncation, padding with <pad> = 0) and appends a
 * placeholder pad that `encode_text` drops again before appending the class token, so the text graph takes the
 * 127 ids and the spec's context length is 127; the class position sees every token but padding, so batches are
 * never cut. Images: Resize(448, bicubic) of the shortest side, CenterCrop(448), OpenAI mean/std
 * (transform.py; create_model sets the mean and std). Scores: softmax of cosine similarities times
 * exp(logit_scale), as CONCH's zero-shot notebooks compute them.
 * @example readConchSpec(files, sd, 'pytorch_model.bin').preprocess.size // 448
 */
export function readConchSpec(files: ModelFiles, sd: StateDict, weightsFile: string): ModelSpec {
  const { cfg, file } = conchModelCfg(files);
  const first = sd.keys().next().value as string | undefined;
  const p = first?.startsWith('module.') ? 'module.' : ''; // read_state_dict strips `module.` when the first key has it
  for (const k of ['visual.trunk.patch_embed.proj.weight', 'visual.attn_pool_contrast.query', 'text.cls_emb', 'logit_scale']) {
    if (!sd.has(p + k)) throw new CheckpointError(`no ${p + k}: not a CONCH CoCa state dict (visual.trunk.*, visual.attn_pool_contrast.*, text.*, logit_scale)`, { file: weightsFile });
  }
  const { vision, text } = conchConfigs(cfg as Record<string, unknown>, file);
  const scale = sd.get(`${p}logit_scale`)!;
  if (!(scale.data instanceof Float32Array) || scale.data.length !== 1) throw new CheckpointError(`${p}logit_scale: expected one float32, got shape [${scale.shape.join(', ')}]`, { file: weightsFile });
  const contextLength = text.contextLength - 1;
  return {
    format: 'conch',
    family: 'conch',
    embedDim: vision.embedDim,
    vision: { kind: 'conch-vision', config: vision as unknown as Json, prefix: `${p}visual.` },
    text: { kind: 'conch-text', config: text as unknown as Json, prefix: `${p}text.` },
    patchTokens: { grid: Math.floor(vision.imageSize / vision.patchSize), width: vision.width },
    tokenizer: {
      tokenizer: { kind: 'byte-level-bpe', file: CONCH_FILES.tokenizer, padToken: '<pad>', vocabSize: text.vocabSize },
      contextLength,
      padId: text.padId,
      cutToEnd: false,
      attentionMask: false,
      tokenTypeIds: false,
    },
    preprocess: { size: vision.imageSize, mean: OPENAI_MEAN, std: OPENAI_STD, interpolation: 'bicubic', resizeMode: 'shortest' },
    scoring: { kind: 'softmax', logitScale: Math.exp(scale.data[0]!) },
    // the caption decoder (text_decoder.*) is CoCa's captioning head, not part of either tower
    ignoredKeys: [`${p}logit_scale`, ...[...sd.keys()].filter((k) => k.startsWith(`${p}text_decoder.`))],
    files: { ...conchFiles(), weights: [{ name: weightsFile.slice(weightsFile.lastIndexOf('/') + 1) }] },
    architecture: {
      vision: { ...vision, tower: 'conch-vision', poolType: 'attentional pooler (1 query)' },
      text: { ...text, tower: 'conch-text', contextLength, poolType: 'class token' },
      config: file,
    },
  };
}
