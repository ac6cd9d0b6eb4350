// The reader for MedCLIP's published layout (Wang et al., EMNLP 2022; RyanWangZf/MedCLIP): a release zip holding
// a bare `pytorch_model.bin` (torch.save of MedCLIPModel.state_dict()), whose architecture is not in the file but
// in MedCLIP's code: `medclip/modeling_medclip.py` builds the image tower from the hub repository
// microsoft/swin-tiny-patch4-window7-224 (MedCLIPVisionModelViT: SwinModel + a bias-free projection_head on
// pooler_output) or torchvision's resnet50 (MedCLIPVisionModel: fc replaced by Linear(2048, 512, bias=False)), and
// the text tower from emilyalsentzer/Bio_ClinicalBERT (MedCLIPTextModel: the unmasked mean of hidden states 1, 2
// and the last, then a bias-free projection_head); `medclip/constants.py` names both repositories. The reader
// takes the two repositories' files as bytes beside the state dict, as MedCLIP's from_pretrained calls get them.
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../../errors.ts';
import { bertConfigFromHf, type BertConfig } from '../bert.ts';
import type { Json } from '../hf-config.ts';
import { readText, type ModelFiles, type ModelSpec } from '../spec.ts';
import '../towers/builtin.ts';
import type { MedclipTextConfig } from '../towers/medclip-text.ts';
import { swinCells, swinConfigFromHf, type SwinConfig } from '../towers/swin.ts';
import { inferResNetTrunk, torchvisionResNetCells, type TorchvisionResNetConfig } from '../towers/torchvision-resnet.ts';

/** The hub repositories MedCLIP's code builds its towers from (medclip/constants.py VIT_TYPE, BERT_TYPE). */
export const MEDCLIP_REPOS = { swin: 'microsoft/swin-tiny-patch4-window7-224', bert: 'emilyalsentzer/Bio_ClinicalBERT' } as const;

/** The weights file inside the release zip (medclip/constants.py WEIGHTS_NAME). */
export const MEDCLIP_WEIGHTS = 'pytorch_model.bin';

/**
 * MedCLIPFeatureExtractor's normalisation (medclip/constants.py IMG_MEAN, IMG_STD), on one grey channel that the
 * vision model repeats three times.
 */
export const MEDCLIP_MEAN = 0.5862785803043838;
export const MEDCLIP_STD = 0.27950088968644304;

/**
 * MedCLIP's prompt tokenization (medclip/prompts.py process_class_prompts): model_max_length 77, truncation,
 * padding=True (to the longest prompt of a class, tokenized a class at a time).
 */
export const MEDCLIP_CONTEXT = 77;

/** MedCLIPModel.compute_logits clamps logit_scale to [0, 4.6052] before exp (a temperature of 1 to 100). */
export const MEDCLIP_LOGIT_SCALE_MAX = 4.6052;

/** The image tower MedCLIP's state dict holds, told by its keys. */
export function medclipVisionKind(sd: StateDict, file: string): 'hf-swin' | 'torchvision-resnet' {
  if (sd.has('vision_model.model.embeddings.patch_embeddings.projection.weight')) return 'hf-swin';
  if (sd.has('vision_model.model.conv1.weight')) return 'torchvision-resnet';
  const seen = [...sd.keys()].filter((k) => k.startsWith('vision_model.')).slice(0, 5);
  throw new ConfigError(
    `not a MedCLIP image tower: neither vision_model.model.embeddings.patch_embeddings.projection.weight (Swin) nor vision_model.model.conv1.weight (ResNet-50); vision keys: ${seen.join(', ') || 'none'}`,
    { file },
  );
}

/**
 * True when a state dict has MedCLIPModel's keys (vision_model.*, text_model.model.*, text_model.projection_head).
 * @example isMedclipStateDict(sd) // true for the release's pytorch_model.bin
 */
export function isMedclipStateDict(sd: StateDict): boolean {
  return sd.has('text_model.projection_head.weight') && sd.has('text_model.model.embeddings.word_embeddings.weight') && [...sd.keys()].some((k) => k.startsWith('vision_model.'));
}

/** The files a MedCLIP model needs: the release's weights, the Swin config and Bio_ClinicalBERT's config and vocabulary. */
export function medclipFiles(): ModelSpec['files'] {
  return {
    config: [{ name: 'config.json', repo: MEDCLIP_REPOS.swin }, { name: 'config.json', repo: MEDCLIP_REPOS.bert }],
    weights: [{ name: MEDCLIP_WEIGHTS }],
    tokenizer: [{ name: 'vocab.txt', repo: MEDCLIP_REPOS.bert }, { name: 'tokenizer_config.json', repo: MEDCLIP_REPOS.bert, optional: true }],
  };
}

function parseJson(files: ModelFiles, name: string, required: boolean): Json | undefined {
  const text = readText(files, name);
  if (text === undefined) {
    if (required) throw new ConfigError(`no ${name} in ${files.dir}`, { file: files.dir });
    return undefined;
  }
  try {
    const j = JSON.parse(text);
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not a JSON object');
    return j as Json;
  } catch (e) {
    throw new ConfigError(`${name} is not a valid JSON object: ${(e as Error).message}`, { file: `${files.dir}/${name}` });
  }
}

/** Bio_ClinicalBERT's architecture from its config.json and the weights' shapes (transformers' BertConfig defaults). */
function bertConfig(hf: Json, sd: StateDict, file: string, lowercase: boolean): BertConfig {
  // a BERT config of the original layout may have no model_type (transformers then goes by the repository); another is an error
  if (hf.model_type !== undefined && hf.model_type !== 'bert') throw new ConfigError(`config.json model_type '${String(hf.model_type)}': MedCLIP's text tower is a BERT (emilyalsentzer/Bio_ClinicalBERT)`, { file });
  return bertConfigFromHf(hf, sd, file, 'text_model.model.encoder.layer.', { name: MEDCLIP_REPOS.bert, lowercase });
}

/**
 * AutoTokenizer's casing for the text repository: tokenizer_config.json's do_lower_case when it has one, else
 * BertTokenizer's default, lowercase (Bio_ClinicalBERT has no tokenizer_config.json, so MedCLIP lowercases although
 * the vocabulary is cased).
 */
function lowercaseOf(files: ModelFiles): boolean {
  const j = parseJson(files, 'tokenizer_config.json', false);
  if (!j) return true;
  const cls = j.tokenizer_class;
  if (cls !== undefined && !['BertTokenizer', 'BertTokenizerFast'].includes(String(cls))) {
    throw new UnsupportedError(`tokenizer_class '${String(cls)}': a BERT WordPiece tokenizer is expected for MedCLIP's text tower`, { file: `${files.dir}/tokenizer_config.json` });
  }
  return typeof j.do_lower_case === 'boolean' ? j.do_lower_case : true;
}

export interface MedclipInput {
  /** the text repository's files (Bio_ClinicalBERT: config.json, vocab.txt, maybe tokenizer_config.json) */
  textFiles: ModelFiles;
  /** the image repository's files (Swin-T: config.json); not needed for MedCLIP-ResNet */
  visionFiles?: ModelFiles;
  weightsFile: string;
  sd: StateDict;
}

/**
 * A model spec from MedCLIP's release weights and the two hub repositories' files.
 * Scoring is PromptClassifier's with ensemble=True (the README's zero-shot example): per class, the mean over its
 * prompts of logit_scale * cos(image, prompt), i.e. the product with the mean of the unit prompt embeddings,
 * not renormalised; prompts are embedded a class at a time, padded to that class's longest (padding=True).
 * @example readMedclipSpec({ textFiles, visionFiles, weightsFile, sd }).vision.kind // 'hf-swin'
 */
export function readMedclipSpec(input: MedclipInput): ModelSpec {
  const { sd, weightsFile, textFiles } = input;
  if (!isMedclipStateDict(sd)) {
    throw new ConfigError(`not a MedCLIP state dict: expected text_model.model.*, text_model.projection_head.weight and vision_model.* keys`, { file: weightsFile });
  }
  const textProj = sd.get('text_model.projection_head.weight')!;
  const embedDim = textProj.shape[0]!;
  if (sd.has('text_model.projection_head.bias')) throw new ConfigError(`text_model.projection_head has a bias; MedCLIPModel builds it with proj_bias=False`, { file: weightsFile });
  const lowercase = lowercaseOf(textFiles);
  const bert = bertConfig(parseJson(textFiles, 'config.json', true)!, sd, `${textFiles.dir}/config.json`, lowercase);
  if (textProj.shape[1] !== bert.width) throw new ConfigError(`text_model.projection_head.weight is ${JSON.stringify(textProj.shape)}; the BERT is ${bert.width} wide`, { file: weightsFile });
  const text: MedclipTextConfig = { ...bert, embedDim, poolStates: [1, 2, -1], projBias: false };

  const kind = medclipVisionKind(sd, weightsFile);
  let vision: SwinConfig | TorchvisionResNetConfig;
  let visionPrefix: string;
  let patchTokens: { grid: number; width: number };
  if (kind === 'hf-swin') {
    if (!input.visionFiles) throw new ConfigError(`MedCLIP-ViT needs the Swin config of ${MEDCLIP_REPOS.swin} beside its weights`, { file: weightsFile });
    const swinFile = `${input.visionFiles.dir}/config.json`;
    const hf = parseJson(input.visionFiles, 'config.json', true)!;
    if (hf.model_type !== undefined && hf.model_type !== 'swin') throw new ConfigError(`config.json model_type '${String(hf.model_type)}': expected 'swin'`, { file: swinFile });
    const head = sd.get('vision_model.projection_head.weight');
    if (!head) throw new ConfigError('no vision_model.projection_head.weight: MedCLIPVisionModelViT projects pooler_output with it', { file: weightsFile });
    const swin = swinConfigFromHf(hf, 'model.', { key: 'projection_head', embedDim: head.shape[0]!, bias: false }, swinFile);
    // MedCLIPFeatureExtractor makes 224 px images whatever the config says
    if (swin.imageSize !== 224) throw new ConfigError(`config.json image_size ${swin.imageSize}: MedCLIP's feature extractor makes 224 px images`, { file: swinFile });
    vision = swin;
    visionPrefix = 'vision_model.';
    patchTokens = swinCells(swin);
  } else {
    const fc = sd.get('vision_model.model.fc.weight');
    if (!fc) throw new ConfigError('no vision_model.model.fc.weight: MedCLIPVisionModel replaces the ResNet fc by its projection', { file: weightsFile });
    const resnet: TorchvisionResNetConfig = {
      ...inferResNetTrunk(sd, weightsFile, 'vision_model.model.'),
      imageSize: 224,
      trunk: 'vision_model.model.',
      head: { kind: 'linear', key: 'vision_model.model.fc', embedDim: fc.shape[0]!, bias: sd.has('vision_model.model.fc.bias') },
    };
    vision = resnet;
    visionPrefix = '';
    patchTokens = torchvisionResNetCells(resnet);
  }
  const visionDim = kind === 'hf-swin' ? (vision as SwinConfig).head!.embedDim : (vision as TorchvisionResNetConfig & { head: { embedDim: number } }).head.embedDim;
  if (visionDim !== embedDim) throw new ConfigError(`the image projection gives ${visionDim} dimensions, the text projection ${embedDim}`, { file: weightsFile });

  const ls = sd.get('logit_scale');
  if (!ls || ls.data.length !== 1) throw new ConfigError('no scalar logit_scale: MedCLIPModel saves its learned temperature', { file: weightsFile });
  const logitScale = Math.exp(Math.min(Math.max(Number(ls.data[0]), 0), MEDCLIP_LOGIT_SCALE_MAX));
  return {
    format: 'medclip',
    family: 'medclip',
    embedDim,
    vision: { kind, config: vision as unknown as Json, prefix: visionPrefix },
    text: { kind: 'medclip-text', config: text as unknown as Json, prefix: 'text_model.' },
    patchTokens,
    tokenizer: {
      // MedCLIP calls transformers' tokenizer directly: no open_clip text cleaning
      tokenizer: { kind: 'wordpiece', vocabFile: 'vocab.txt', lowercase, repo: MEDCLIP_REPOS.bert, clean: 'bert' },
      contextLength: MEDCLIP_CONTEXT,
      padId: bert.padId,
      cutToEnd: false,
      attentionMask: true,
      tokenTypeIds: false,
      padding: 'longest',
    },
    // the spec's transform can only approximate MedCLIPFeatureExtractor (pad to a square 'L' canvas, PIL bicubic to
    // 224, one-channel normalisation); the registry entries run the exact `medclip` protocol instead
    preprocess: { size: 224, mean: [MEDCLIP_MEAN, MEDCLIP_MEAN, MEDCLIP_MEAN], std: [MEDCLIP_STD, MEDCLIP_STD, MEDCLIP_STD], interpolation: 'bicubic', resizeMode: 'longest', fillColor: 0 },
    scoring: { kind: 'softmax', logitScale, ensemble: 'mean-logits' },
    ignoredKeys: ['logit_scale'],
    files: { ...medclipFiles(), weights: [{ name: weightsFile.slice(weightsFile.lastIndexOf('/') + 1) }] },
    architecture: {
      // with the field names `clipmed info` reads (width, layers, heads, poolType) beside the tower's own
      vision: kind === 'hf-swin'
        ? { ...vision, tower: kind, width: patchTokens.width, layers: (vision as SwinConfig).depths.reduce((a, b) => a + b, 0), poolType: 'mean of the final tokens' }
        : { ...vision, tower: kind, patchSize: 32, width: patchTokens.width, heads: 'no', poolType: 'average pool' },
      text: { ...text, tower: 'medclip-text', contextLength: MEDCLIP_CONTEXT, poolType: 'mean of hidden states 1, 2 and last, padding included' },
    },
  };
}
