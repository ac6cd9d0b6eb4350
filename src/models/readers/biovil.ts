// The reader for BioViL and BioViL-T hub folders (microsoft/BiomedVLP-CXR-BERT-specialized,
// microsoft/BiomedVLP-BioViL-T): a transformers folder whose config.json has model_type "cxr-bert" (the text
// model, CXR-BERT) with the image model as a second weights file beside it (hi-ml-multimodal
// `image/model/pretrained.py`: biovil_image_resnet50_proj_size_128.pt, biovil_t_image_model_proj_size_128.pt).
// Both state dicts are read into one (their keys do not overlap: bert.* / cls* and encoder.* / projector.*).
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError, UnsupportedError } from '../../errors.ts';
import type { HfFolder, Json } from '../hf-config.ts';
import type { ModelSpec, SpecFile } from '../spec.ts';
import { cxrBertConfig } from '../towers/cxr-bert.ts';
import type { VitPoolerConfig } from '../towers/temporal-pooler.ts';
import { inferResNetTrunk, torchvisionResNetCells, type TorchvisionResNetConfig } from '../towers/torchvision-resnet.ts';
import { countLayers } from '../timm-vit.ts';

/** The image weights of BioViL and BioViL-T, as hi-ml names them. */
export const BIOVIL_IMAGE_FILES = ['biovil_image_resnet50_proj_size_128.pt', 'biovil_t_image_model_proj_size_128.pt'];

/** The image weights file of a BioViL folder, or a ConfigError naming what is missing. */
export function biovilImageFile(names: readonly string[], dir: string): string {
  const found = BIOVIL_IMAGE_FILES.filter((f) => names.includes(f));
  if (found.length !== 1) {
    throw new ConfigError(`a CXR-BERT (BioViL) folder needs exactly one image weights file of ${BIOVIL_IMAGE_FILES.join(', ')}; found ${found.length ? found.join(', ') : 'none'}`, { file: dir });
  }
  return found[0]!;
}

/** The files a BioViL model needs, from its config.json alone. */
export function biovilFiles(): ModelSpec['files'] {
  const optional = (name: string): SpecFile => ({ name, optional: true });
  return {
    config: [{ name: 'config.json' }],
    weights: [{ name: 'pytorch_model.bin' }, { name: BIOVIL_IMAGE_FILES[0]!, oneOf: [...BIOVIL_IMAGE_FILES] }],
    tokenizer: [{ name: 'vocab.txt' }, optional('tokenizer_config.json'), optional('special_tokens_map.json')],
  };
}

/**
 * A model spec from a BioViL folder and the merged state dict of its two weights files.
 * Preprocessing: hi-ml resizes to 512 and centre-crops 480 (BioViL) or 448 (BioViL-T) with no normalisation
 * after stretching the image to 0..255: the `biovil` / `biovil-t` protocols do exactly that; the spec's own
 * transform (a resize of the shortest side straight to the crop size) is an approximation the registry entries
 * replace with the protocol.
 * @example readBiovilSpec(folder, sd, 'pytorch_model.bin').vision.config.head // { kind: 'conv-mlp', ... }
 */
export function readBiovilSpec(f: HfFolder, sd: StateDict, weightsFile: string): ModelSpec {
  const file = `${f.dir}/config.json`;
  const imageFile = biovilImageFile(f.files, f.dir);
  const text = cxrBertConfig(f.config, sd, file);
  const temporal = imageFile === BIOVIL_IMAGE_FILES[1];
  if (temporal !== sd.has('encoder.missing_previous_emb')) {
    throw new ConfigError(`${imageFile} ${temporal ? 'lacks' : 'has'} BioViL-T's encoder.missing_previous_emb`, { file: `${f.dir}/${imageFile}` });
  }
  const proj = sd.get('projector.model.0.weight');
  if (!proj) throw new ConfigError(`no projector.model.0.weight in ${imageFile}: not a hi-ml ImageModel state dict`, { file: `${f.dir}/${imageFile}` });
  const embedDim = proj.shape[0]!;
  if (embedDim !== text.projectionSize) throw new ConfigError(`the image projector gives ${embedDim} dimensions, the text projection ${text.projectionSize}`, { file });
  const vision: TorchvisionResNetConfig = {
    ...inferResNetTrunk(sd, `${f.dir}/${imageFile}`, 'encoder.encoder.'),
    imageSize: temporal ? 448 : 480,
    trunk: 'encoder.encoder.',
    ...(temporal ? { neck: { kind: 'missing-previous' as const, key: 'encoder.', dim: sd.get('encoder.missing_previous_emb')!.shape[1]!, ...biovilTPooler(sd, `${f.dir}/${imageFile}`) } } : {}),
    head: { kind: 'conv-mlp', key: 'projector.model.', hidden: embedDim, embedDim },
  };
  const tc = readTokenizerConfig(f);
  return {
    format: 'hf',
    family: 'biovil',
    embedDim,
    vision: { kind: 'torchvision-resnet', config: vision as unknown as Json, prefix: '' },
    text: { kind: 'cxr-bert', config: { ...text, lowercase: tc.lowercase } as unknown as Json, prefix: '' },
    patchTokens: torchvisionResNetCells(vision),
    // hi-ml tokenizes with padding to the longest prompt and an attention mask; [CLS] pooling makes the padding
    // length irrelevant, so batches are cut to their longest row
    tokenizer: { tokenizer: { kind: 'wordpiece', vocabFile: 'vocab.txt', lowercase: tc.lowercase }, contextLength: text.maxPositions, padId: text.padId, cutToEnd: false, attentionMask: true, tokenTypeIds: false },
    preprocess: { size: vision.imageSize, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bilinear', resizeMode: 'shortest' },
    // BioViL has no learned temperature: hi-ml compares cosine similarities; softmax at scale 1 keeps their order
    scoring: { kind: 'softmax', logitScale: 1 },
    // the masked-LM head of CXR-BERT and the ImageNet classifier are not part of the towers
    ignoredKeys: [...sd.keys()].filter((k) => k.startsWith('cls.predictions.') || k.startsWith('encoder.encoder.fc.')),
    files: { ...biovilFiles(), weights: [{ name: weightsFile.slice(weightsFile.lastIndexOf('/') + 1) }, { name: imageFile }] },
    architecture: { vision: { ...vision, tower: 'torchvision-resnet' }, text: { ...text, tower: 'cxr-bert', contextLength: text.maxPositions } },
  };
}

/**
 * BioViL-T's ViT pooler (hi-ml MultiImageEncoder: VisionTransformerPooler(input_dim=256, grid_shape=(14, 14)) with
 * its defaults, 8 heads and mlp_ratio 1), sized from the weights; none when the file has no pooler.
 */
function biovilTPooler(sd: StateDict, file: string): { pooler?: VitPoolerConfig } {
  const type = sd.get('encoder.vit_pooler.type_embed');
  if (!type) return {};
  const blocks = countLayers(sd, 'encoder.vit_pooler.blocks.');
  const fc1 = sd.get('encoder.vit_pooler.blocks.0.mlp.fc1.weight');
  if (blocks === 0 || !fc1) throw new ConfigError('encoder.vit_pooler has a type embedding but no blocks', { file });
  // the 448 px input (the biovil-t protocol) gives ResNet-50's 14 x 14 map, the grid hi-ml fixes
  return { pooler: { grid: [14, 14], heads: 8, blocks, mlpHidden: fc1.shape[0]! } };
}

function readTokenizerConfig(f: HfFolder): { lowercase: boolean } {
  const j = f.tokenizerConfig;
  if (!j) return { lowercase: true };
  const cls = j.tokenizer_class;
  if (cls !== undefined && !['BertTokenizer', 'BertTokenizerFast', 'CXRBertTokenizer'].includes(String(cls))) {
    throw new UnsupportedError(`tokenizer_class '${String(cls)}': a BERT WordPiece tokenizer is expected for CXR-BERT`, { file: `${f.dir}/tokenizer_config.json` });
  }
  return { lowercase: typeof j.do_lower_case === 'boolean' ? j.do_lower_case : true };
}
