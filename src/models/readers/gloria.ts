// The reader for GLoRIA's published checkpoint (marshuang80/gloria README: chexpert_resnet50.ckpt from the
// Stanford Box folder), a PyTorch Lightning checkpoint: `state_dict` with gloria.img_encoder.* (ImageEncoder:
// torchvision ResNet-50 under model.*, global_embedder, local_embedder) and gloria.text_encoder.* (BertEncoder:
// Bio_ClinicalBERT under model.*), and `hyper_parameters`, GLoRIA's OmegaConf config (read as data by
// src/checkpoint/lightning.ts). gloria.py `load_gloria` builds the model from that config and takes the
// tokenizer from the hub repository `model.text.bert_type` names (emilyalsentzer/Bio_ClinicalBERT): its
// vocab.txt (the WordPiece vocabulary, and which ids are '##' pieces) and config.json (heads, LayerNorm eps,
// which the weights cannot tell) are read from there.
// Config values missing from the checkpoint fall back to GLoRIA's configs/chexpert_pretrain_config.yaml.
import { checkpointHyperParameters } from '../../checkpoint/lightning.ts';
import type { StateDict } from '../../checkpoint/types.ts';
import { CheckpointError, ConfigError, UnsupportedError } from '../../errors.ts';
import { configNumber } from '../bert.ts';
import type { Json } from '../hf-config.ts';
import { readText, type ModelFiles, type ModelSpec } from '../spec.ts';
import { countLayers } from '../timm-vit.ts';
import { continuationRanges, type GloriaTextConfig } from '../towers/gloria-text.ts';
import { inferResNetTrunk, torchvisionResNetCells, type TorchvisionResNetConfig } from '../towers/torchvision-resnet.ts';

/** GLoRIA's configs/chexpert_pretrain_config.yaml: what the published checkpoint was trained with. */
export const GLORIA_CONFIG = {
  bertType: 'emilyalsentzer/Bio_ClinicalBERT',
  lastLayers: 4,
  aggregate: 'sum' as 'sum' | 'mean',
  norm: false,
  aggTokens: true,
  wordNum: 97,
  temp1: 4,
  temp2: 5,
  cropSize: 224,
  transformNorm: 'half',
};

const IMG = 'gloria.img_encoder.';
const TXT = 'gloria.text_encoder.';

/** A state dict in GLoRIA's layout (a Lightning module holding `gloria`). */
export function isGloriaStateDict(sd: StateDict): boolean {
  return sd.has(`${IMG}global_embedder.weight`) && sd.has(`${IMG}local_embedder.weight`);
}

/** `path` (a.b.c) of a plain config object, or undefined. */
function at(cfg: Record<string, unknown> | undefined, path: string): unknown {
  let v: unknown = cfg;
  for (const k of path.split('.')) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** GLoRIA's settings: the checkpoint's hyper_parameters where they have them, else the published config. */
export function gloriaSettings(sd: StateDict, file: string): typeof GLORIA_CONFIG & { fromCheckpoint: boolean } {
  const hp = checkpointHyperParameters(sd);
  const pick = <T>(path: string, fallback: T, ok: (v: unknown) => boolean): T => {
    const v = at(hp, path);
    if (v === undefined || v === null) return fallback;
    if (!ok(v)) throw new ConfigError(`hyper_parameters ${path} = ${JSON.stringify(v)} is not what GLoRIA's code accepts there`, { file });
    return v as T;
  };
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  const s = {
    bertType: pick('model.text.bert_type', GLORIA_CONFIG.bertType, (v) => typeof v === 'string'),
    lastLayers: pick('model.text.last_n_layers', GLORIA_CONFIG.lastLayers, (v) => Number.isInteger(v) && (v as number) >= 1),
    aggregate: pick('model.text.aggregate_method', GLORIA_CONFIG.aggregate, (v) => v === 'sum' || v === 'mean'),
    norm: pick('model.text.norm', GLORIA_CONFIG.norm, (v) => typeof v === 'boolean'),
    aggTokens: pick('model.text.agg_tokens', GLORIA_CONFIG.aggTokens, (v) => typeof v === 'boolean'),
    wordNum: pick('data.text.word_num', GLORIA_CONFIG.wordNum, (v) => Number.isInteger(v) && (v as number) >= 3),
    temp1: pick('model.gloria.temp1', GLORIA_CONFIG.temp1, num),
    temp2: pick('model.gloria.temp2', GLORIA_CONFIG.temp2, num),
    cropSize: pick('transforms.random_crop.crop_size', GLORIA_CONFIG.cropSize, (v) => Number.isInteger(v) && (v as number) > 0),
    transformNorm: pick('transforms.norm', GLORIA_CONFIG.transformNorm, (v) => v === 'half' || v === 'imagenet'),
    fromCheckpoint: hp !== undefined,
  };
  if (!s.aggTokens) throw new UnsupportedError('model.text.agg_tokens false: only GLoRIA\'s word aggregation (agg_tokens true) is built', { file });
  const vision = at(hp, 'model.vision.model_name');
  if (vision !== undefined && vision !== 'resnet_50') throw new UnsupportedError(`model.vision.model_name '${String(vision)}': the ResNet-50 image encoder is built`, { file });
  return s;
}

/** The BERT of GLoRIA's text encoder: sizes from the weights, heads / eps / pad id from the hub config.json. */
function bertOf(sd: StateDict, config: Json, file: string, configFile: string): Omit<GloriaTextConfig, 'lastLayers' | 'aggregate' | 'wordNum' | 'norm' | 'continuation'> {
  const t = `${TXT}model.`;
  const shape = (k: string) => {
    const x = sd.get(t + k);
    if (!x) throw new CheckpointError(`missing key '${t}${k}' of GLoRIA's text encoder`, { file });
    return x.shape;
  };
  const [vocabSize, width] = shape('embeddings.word_embeddings.weight') as [number, number];
  const num = (k: string, d: number) => configNumber(config, k, configFile, d);
  if ((config.hidden_act ?? 'gelu') !== 'gelu') throw new ConfigError(`config.json hidden_act '${String(config.hidden_act)}': the BERT layers are built with exact GELU`, { file: configFile });
  const layers = countLayers(sd, `${t}encoder.layer.`);
  const stated = [['hidden_size', width], ['num_hidden_layers', layers], ['vocab_size', vocabSize]].filter(([k, v]) => config[k as string] !== undefined && config[k as string] !== v);
  if (stated.length) throw new CheckpointError(`the text weights do not match ${configFile}: ${stated.map(([k, v]) => `${k} ${String(config[k as string])} there, ${v} in the weights`).join('; ')}`, { file });
  const heads = num('num_attention_heads', 12);
  if (width % heads !== 0) throw new ConfigError(`text width ${width} does not split into ${heads} heads`, { file: configFile });
  return {
    name: String(config._name_or_path ?? GLORIA_CONFIG.bertType),
    width,
    layers,
    heads,
    intermediate: shape('encoder.layer.0.intermediate.dense.weight')[0]!,
    vocabSize,
    maxPositions: shape('embeddings.position_embeddings.weight')[0]!,
    typeVocab: shape('embeddings.token_type_embeddings.weight')[0]!,
    eps: num('layer_norm_eps', 1e-12),
    padId: num('pad_token_id', 0),
    lowercase: true,
  };
}

/** The files a GLoRIA checkpoint needs: itself, and the BERT's vocabulary and config from the hub. */
export function gloriaFiles(weightsName: string, bertType = GLORIA_CONFIG.bertType): ModelSpec['files'] {
  return { config: [], weights: [{ name: weightsName }], tokenizer: [{ name: 'vocab.txt', repo: bertType }, { name: 'config.json', repo: bertType }] };
}

/**
 * A model spec from GLoRIA's checkpoint and the files of its BERT's hub repository (vocab.txt, config.json).
 * Preprocessing: GLoRIA's own (cv2 INTER_AREA resize of the longest side to 256, zero padding to a square, centre
 * crop 224, Normalize(0.5, 0.5)) is approximated by a resize of the shortest side and a centre crop to 224.
 * @example readGloriaSpec(sd, 'chexpert_resnet50.ckpt', bertFiles).scoring.kind // 'global-local'
 */
export function readGloriaSpec(sd: StateDict, weightsFile: string, bertFiles: ModelFiles | undefined): ModelSpec {
  const s = gloriaSettings(sd, weightsFile);
  const need = (name: string): string => {
    const text = bertFiles ? readText(bertFiles, name) : undefined;
    if (text === undefined) {
      throw new ConfigError(`GLoRIA's text encoder needs ${name} of ${s.bertType} (the hub repository its config names); ${bertFiles ? `${bertFiles.dir} has no ${name}` : 'no files of that repository were given'} (load the checkpoint by its published name, chexpert_resnet50.ckpt, to fetch them)`, { file: weightsFile });
    }
    return text;
  };
  const vocab = need('vocab.txt').split('\n').map((l) => l.replace(/\r$/, ''));
  while (vocab.length && vocab[vocab.length - 1] === '') vocab.pop();
  const configFile = `${bertFiles!.dir}/config.json`;
  let config: Json;
  try {
    config = JSON.parse(need('config.json')) as Json;
  } catch (e) {
    throw new ConfigError(`config.json is not valid JSON: ${(e as Error).message}`, { file: configFile });
  }
  const bert = bertOf(sd, config, weightsFile, configFile);
  if (vocab.length !== bert.vocabSize) throw new CheckpointError(`${s.bertType}'s vocab.txt has ${vocab.length} tokens, the text weights ${bert.vocabSize} rows`, { file: weightsFile });
  if (bert.maxPositions < s.wordNum) throw new ConfigError(`data.text.word_num ${s.wordNum} is longer than the BERT's ${bert.maxPositions} positions`, { file: weightsFile });
  const text: GloriaTextConfig = { ...bert, lastLayers: s.lastLayers, aggregate: s.aggregate, wordNum: s.wordNum, norm: s.norm, continuation: continuationRanges(vocab) };

  const embedDim = sd.get(`${IMG}global_embedder.weight`)!.shape[0]!;
  if (embedDim !== bert.width) throw new CheckpointError(`the image embedders give ${embedDim} dimensions, the text encoder ${bert.width} (GLoRIA builds no text embedders)`, { file: weightsFile });
  const trunk = `${IMG}model.`;
  const vision: TorchvisionResNetConfig = {
    ...inferResNetTrunk(sd, weightsFile, trunk),
    imageSize: s.cropSize,
    inputSize: 299, // ImageEncoder.resnet_forward: nn.Upsample(size=(299, 299), mode='bilinear', align_corners=True)
    trunk,
    head: { kind: 'gloria', globalKey: `${IMG}global_embedder`, localKey: `${IMG}local_embedder`, embedDim },
  };
  const half = s.transformNorm === 'half';
  const weightsName = weightsFile.slice(weightsFile.lastIndexOf('/') + 1);
  const { continuation, ...textArchitecture } = text;
  return {
    format: 'openai',
    family: 'gloria',
    embedDim,
    vision: { kind: 'torchvision-resnet', config: vision as unknown as Json, prefix: '' },
    text: { kind: 'gloria-text', config: text as unknown as Json, prefix: TXT },
    patchTokens: torchvisionResNetCells(vision),
    // GLoRIA.process_text: its prompt cleaning, then the tokenizer padded to word_num with an attention mask
    tokenizer: {
      tokenizer: { kind: 'wordpiece', vocabFile: 'vocab.txt', lowercase: true, repo: s.bertType, clean: 'gloria' },
      contextLength: s.wordNum,
      padId: bert.padId,
      cutToEnd: false,
      attentionMask: true,
      tokenTypeIds: false,
    },
    preprocess: { size: s.cropSize, mean: half ? [0.5, 0.5, 0.5] : [0.485, 0.456, 0.406], std: half ? [0.5, 0.5, 0.5] : [0.229, 0.224, 0.225], interpolation: 'bilinear', resizeMode: 'shortest' },
    // gloria.py get_similarities / GLoRIA.get_local_similarities (4.0 and 5.0 there, the config's temp1 and temp2);
    // the probabilities are a softmax over the class similarities at scale 1
    scoring: { kind: 'global-local', logitScale: 1, attentionTemp: s.temp1, wordTemp: s.temp2, wordSlots: s.wordNum, wordCount: 'prompt-characters' },
    ignoredKeys: [],
    files: gloriaFiles(weightsName, s.bertType),
    architecture: {
      vision: { ...vision, tower: 'torchvision-resnet' },
      text: { ...textArchitecture, continuationPieces: continuation.reduce((n, [a, b]) => n + b - a, 0), tower: 'gloria-text', contextLength: s.wordNum },
      hyperParameters: s.fromCheckpoint ? 'from the checkpoint' : "GLoRIA's published config (the checkpoint has none)",
    },
  };
}
