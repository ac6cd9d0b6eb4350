// The reader for Hugging Face transformers folders (`config.json` with `model_type` clip or siglip): the
// JSON files and the tokenizer model come as bytes, the weights as tensors. transformers' modeling_clip.py /
// modeling_siglip.py are the references for the towers; their image processors for the preprocessing.
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../../errors.ts';
import { hfClipTextSettings, parseHfClipConfig } from '../hf-clip-family.ts';
import { hfPreprocess, type HfFolder, type Json } from '../hf-config.ts';
import { logitScaleOf, OPENAI_MEAN, OPENAI_STD } from '../open-clip-family.ts';
import { parseSiglipConfig, scalarOf, siglipTextSettings, SPM_FILES } from '../siglip-family.ts';
import { readText, type ModelFiles, type ModelSpec, type SpecFile } from '../spec.ts';
import '../towers/builtin.ts';
import { biovilFiles, readBiovilSpec } from './biovil.ts';

/** Weights files of a transformers folder, in order of preference. */
export const HF_WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin'];
const HF_JSON = ['config.json', 'preprocessor_config.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

function parseJson(files: ModelFiles, name: string): Json | undefined {
  const text = readText(files, name);
  if (text === undefined) return undefined;
  try {
    const j = JSON.parse(text);
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not a JSON object');
    return j as Json;
  } catch (e) {
    throw new ConfigError(`${name} is not a valid JSON object: ${(e as Error).message}`, { file: `${files.dir}/${name}` });
  }
}

/**
 * The transformers folder of `files`, its JSON parsed.
 * @example hfFolderFromFiles(files).config.model_type // 'clip'
 */
export function hfFolderFromFiles(files: ModelFiles): HfFolder {
  const [config, preprocessor, tokenizerConfig, specialTokens] = HF_JSON.map((n) => parseJson(files, n));
  if (!config) throw new ConfigError('no config.json in the folder', { file: files.dir });
  return { dir: files.dir, files: [...files.names], config, preprocessor, tokenizerConfig, specialTokens, read: (n) => files.read(n) };
}

const optional = (name: string): SpecFile => ({ name, optional: true });

/** The files a transformers CLIP or SigLIP model needs, from its config.json alone. */
export function hfFiles(config: Json): ModelSpec['files'] {
  if (config.model_type === 'cxr-bert') return biovilFiles(); // BioViL: CXR-BERT and the image weights beside it
  const tokenizer = config.model_type === 'siglip'
    ? [{ name: SPM_FILES[0]!, oneOf: [...SPM_FILES] }, optional('tokenizer_config.json'), optional('special_tokens_map.json')]
    : [optional('tokenizer_config.json'), optional('special_tokens_map.json'), optional('vocab.json'), optional('merges.txt'), optional('tokenizer.json')];
  return { config: [{ name: 'config.json' }, { name: 'preprocessor_config.json' }], weights: [{ name: HF_WEIGHT_FILES[0]!, oneOf: [...HF_WEIGHT_FILES] }], tokenizer };
}

/**
 * A model spec from a transformers folder's files and weights.
 * @example readHfSpec(files, sd, 'model.safetensors').vision.kind // 'hf-clip-vision'
 */
export function readHfSpec(files: ModelFiles, sd: StateDict, weightsFile: string): ModelSpec {
  const f = hfFolderFromFiles(files);
  const weights = [{ name: weightsFile.slice(weightsFile.lastIndexOf('/') + 1) }];
  if (f.config.model_type === 'clip') {
    const cfg = parseHfClipConfig(f.config, `${f.dir}/config.json`);
    const { padId, contextLength } = hfClipTextSettings(f, cfg);
    return {
      format: 'hf',
      family: 'hf_clip',
      embedDim: cfg.projectionDim,
      vision: { kind: 'hf-clip-vision', config: { ...cfg.vision, projectionDim: cfg.projectionDim }, prefix: '' },
      text: { kind: 'hf-clip-text', config: { ...cfg.text, projectionDim: cfg.projectionDim }, prefix: '' },
      patchTokens: { grid: Math.floor(cfg.vision.imageSize / cfg.vision.patchSize), width: cfg.vision.width },
      // the end token 49407 is the largest CLIP BPE id, so the batch cut at the last argmax keeps every end token
      tokenizer: { tokenizer: { kind: 'clip-bpe' }, contextLength, padId, cutToEnd: true, attentionMask: false, tokenTypeIds: false },
      preprocess: hfPreprocess(f.preprocessor, cfg.vision.imageSize, f.dir, { mean: OPENAI_MEAN, std: OPENAI_STD, centerCrop: true }),
      scoring: { kind: 'softmax', logitScale: logitScaleOf(sd) },
      ignoredKeys: ['logit_scale'],
      files: { ...hfFiles(f.config), weights },
      // with the field names `clipmed info` reads (poolType, contextLength) beside transformers' own
      architecture: { ...cfg, vision: { ...cfg.vision, poolType: 'tok' }, text: { ...cfg.text, contextLength, poolType: cfg.text.pool } },
    };
  }
  if (f.config.model_type === 'siglip') {
    const cfg = parseSiglipConfig(f.config, `${f.dir}/config.json`);
    const s = siglipTextSettings(f, cfg);
    return {
      format: 'hf',
      family: 'siglip',
      embedDim: cfg.vision.width,
      vision: { kind: 'siglip-vision', config: { ...cfg.vision }, prefix: '' },
      text: { kind: 'siglip-text', config: { ...cfg.text }, prefix: '' },
      patchTokens: { grid: Math.floor(cfg.vision.imageSize / cfg.vision.patchSize), width: cfg.vision.width },
      tokenizer: {
        tokenizer: { kind: 'sentencepiece', file: s.file, flavor: 'siglip', eosId: s.eosId, unkToken: s.unk, lowercase: s.lowercase },
        contextLength: s.contextLength,
        padId: s.padId,
        cutToEnd: false,
        attentionMask: false,
        tokenTypeIds: false,
      },
      preprocess: hfPreprocess(f.preprocessor, cfg.vision.imageSize, f.dir, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], centerCrop: false }),
      scoring: { kind: 'sigmoid', logitScale: scalarOf(sd, 'logit_scale', Math.exp, weightsFile), logitBias: scalarOf(sd, 'logit_bias', (x) => x, weightsFile) },
      ignoredKeys: ['logit_scale', 'logit_bias'],
      files: { ...hfFiles(f.config), weights },
      architecture: { ...cfg, vision: { ...cfg.vision, poolType: 'attention head' }, text: { ...cfg.text, contextLength: s.contextLength, poolType: 'last' } },
    };
  }
  if (f.config.model_type === 'cxr-bert') return readBiovilSpec(f, sd, weightsFile);
  throw new UnsupportedError(`model_type '${String(f.config.model_type)}': transformers folders of model_type clip, siglip and cxr-bert (BioViL) are read`, { file: `${f.dir}/config.json` });
}
