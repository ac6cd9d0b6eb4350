// A Hugging Face BERT encoder as open_clip's HFTextEncoder wraps it (open_clip v2.24.0 `hf_model.py`;
// transformers' BertModel, Devlin et al. 2019): the BiomedCLIP / QuiltNet-B-16-PMB / UniMed-CLIP text tower.
//   embeddings: word + position + token_type[0] (BertModel's default token_type_ids), LayerNorm
//   layers (post-norm): x = LN(x + dense(attn(x))); x = LN(x + dense(gelu(intermediate(x))))
//   padding mask: open_clip passes attention_mask = (ids != pad_token_id); BertModel adds (1 - mask) * float32 min
//   pooler (open_clip): cls_last_hidden_state_pooler = x[:, 0]; cls_pooler = tanh(pooler.dense(x[:, 0]));
//     mean_pooler = masked mean over tokens
//   proj (open_clip): 'mlp' = Linear(W, (W+E)//2, no bias) -> GELU -> Linear(.., E, no bias); 'linear' = Linear(W, E, no bias)
import type { StateDict } from '../checkpoint/types.ts';
import { CheckpointError, ConfigError, UnsupportedError } from '../errors.ts';
import { GraphBuilder, type Value } from '../graph/builder.ts';
import type { BuiltGraph } from './clip-towers.ts';
import { attend } from './hf-transformer.ts';
import { countLayers } from './timm-vit.ts';
import { tokenAt } from './towers/parts.ts';
import { activation, layerNorm, linear } from './transformer.ts';
import type { Weights } from './weights.ts';

export interface BertConfig {
  /** the Hugging Face model name from the config */
  name: string;
  width: number;
  layers: number;
  heads: number;
  intermediate: number;
  vocabSize: number;
  maxPositions: number;
  typeVocab: number;
  eps: number;
  padId: number;
  lowercase: boolean;
}

/** A number from a transformers config.json, or its BertConfig default; anything else is a ConfigError naming the file. */
export function configNumber(hf: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = hf[key] ?? fallback;
  if (typeof v !== 'number') throw new ConfigError(`config.json ${key}: expected a number, got ${JSON.stringify(hf[key])}`, { file });
  return v;
}

/**
 * A BERT's architecture from its transformers `config.json` (transformers' BertConfig defaults) and the weights: the
 * layer count under `layerPrefix` must be the one the config states, and the layers are built with exact GELU.
 * @example bertConfigFromHf(JSON.parse(configJson), sd, 'config.json', 'bert.encoder.layer.', { name: 'cxr-bert', lowercase: true }).width // 768
 */
export function bertConfigFromHf(hf: Record<string, unknown>, sd: StateDict, file: string, layerPrefix: string, o: { name: string; lowercase: boolean }): BertConfig {
  const num = (k: string, d?: number) => configNumber(hf, k, file, d);
  if ((hf.hidden_act ?? 'gelu') !== 'gelu') throw new UnsupportedError(`config.json hidden_act '${String(hf.hidden_act)}': the BERT layers are built with exact GELU`, { file });
  const layers = countLayers(sd, layerPrefix);
  if (layers !== num('num_hidden_layers', 12)) throw new ConfigError(`config.json says ${num('num_hidden_layers', 12)} layers, the weights have ${layers}`, { file });
  return {
    name: o.name,
    width: num('hidden_size', 768),
    layers,
    heads: num('num_attention_heads', 12),
    intermediate: num('intermediate_size', 3072),
    vocabSize: num('vocab_size'),
    maxPositions: num('max_position_embeddings', 512),
    typeVocab: num('type_vocab_size', 2),
    eps: num('layer_norm_eps', 1e-12),
    padId: num('pad_token_id', 0),
    lowercase: o.lowercase,
  };
}

/** open_clip's text poolers this builds (hf_pooler_type). */
export type HfPooler = 'cls_last_hidden_state_pooler' | 'cls_pooler' | 'mean_pooler';
/** open_clip's text projections (hf_proj_type; 'none' is its Identity when widths agree). */
export type HfProj = 'mlp' | 'linear' | 'none';

/**
 * The BERT checkpoints these models name: what their transformers config says and the weights cannot
 * (heads, LayerNorm eps, pad_token_id, do_lower_case). All BertConfig defaults apart from the sizes.
 */
const BASE = { width: 768, layers: 12, heads: 12, eps: 1e-12, padId: 0, lowercase: true };
const LARGE = { ...BASE, width: 1024, layers: 24, heads: 16 };
export const BERT_MODELS: Record<string, typeof BASE> = {
  'microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract': BASE,
  'microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract': BASE, // the same repository's former name
  'microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext': BASE,
  'microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext': BASE,
  'microsoft/BiomedNLP-BiomedBERT-large-uncased-abstract': LARGE,
  'bert-base-uncased': BASE,
  'google-bert/bert-base-uncased': BASE,
};

/** Explicit open_clip CLIPTextCfg fields that restate (or resize) the named BERT. */
export interface BertOverrides {
  width?: number;
  layers?: number;
  heads?: number;
}

/**
 * Sizes from the weights under `prefix` (`text.transformer.`), heads / eps / pad id / casing from the named
 * model (or `heads` when given); stated sizes must agree with the weights.
 * @example resolveBert('microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract', sd, {}, file).heads // 12
 */
export function resolveBert(name: string, sd: StateDict, o: BertOverrides, file: string, prefix = 'text.transformer.'): BertConfig {
  const known = BERT_MODELS[name];
  if (!known) throw new UnsupportedError(`Hugging Face text model '${name}': known BERT models are ${Object.keys(BERT_MODELS).join(', ')}`, { file });
  const shape = (k: string) => {
    const t = sd.get(prefix + k);
    if (!t) throw new CheckpointError(`missing key '${prefix}${k}' of the BERT text tower '${name}'`, { file });
    return t.shape;
  };
  const [vocabSize, width] = shape('embeddings.word_embeddings.weight') as [number, number];
  const layers = countLayers(sd, `${prefix}encoder.layer.`);
  const stated = { width: o.width ?? known.width, layers: o.layers ?? known.layers };
  const wrong = [['width', width, stated.width], ['layers', layers, stated.layers]].filter(([, a, b]) => a !== b).map(([k, a, b]) => `${k} ${a} (config / '${name}': ${b})`);
  if (wrong.length) throw new CheckpointError(`the text weights do not match the configured BERT: ${wrong.join(', ')}`, { file });
  const heads = o.heads ?? known.heads;
  if (width % heads !== 0) throw new CheckpointError(`text width ${width} does not split into ${heads} heads`, { file });
  return {
    name,
    width,
    layers,
    heads,
    intermediate: shape('encoder.layer.0.intermediate.dense.weight')[0]!,
    vocabSize,
    maxPositions: shape('embeddings.position_embeddings.weight')[0]!,
    typeVocab: shape('embeddings.token_type_embeddings.weight')[0]!,
    eps: known.eps,
    padId: known.padId,
    lowercase: known.lowercase,
  };
}

/** One post-norm BertLayer `{key}` = e.g. `text.transformer.encoder.layer.3`. */
function bertLayer(g: GraphBuilder, w: Weights, x: Value, key: string, c: BertConfig, mask: Value): Value {
  const W = c.width;
  const q = linear(g, w, x, `${key}.attention.self.query`, W, W);
  const k = linear(g, w, x, `${key}.attention.self.key`, W, W);
  const v = linear(g, w, x, `${key}.attention.self.value`, W, W);
  const a = linear(g, w, attend(g, q, k, v, W, c.heads, mask), `${key}.attention.output.dense`, W, W);
  x = layerNorm(g, w, g.add(a, x), `${key}.attention.output.LayerNorm`, W, c.eps);
  const h = activation(g, linear(g, w, x, `${key}.intermediate.dense`, c.intermediate, W), 'gelu');
  return layerNorm(g, w, g.add(linear(g, w, h, `${key}.output.dense`, W, c.intermediate), x), `${key}.output.LayerNorm`, W, c.eps);
}

/**
 * BertModel's embeddings and encoder, keys `t(...)` (e.g. `text.transformer.embeddings...`): ids and the 0/1
 * attention mask [B, T] -> the last hidden states [B, T, W], the mask as float32 [B, T] and every hidden state
 * (transformers' `hidden_states`: embeddings, layer 1, ..., layer L).
 */
export function bertEncode(g: GraphBuilder, w: Weights, c: BertConfig, ids: Value, maskIn: Value, t: (k: string) => string): { x: Value; m: Value; states: Value[] } {
  const W = c.width;
  const seqLen = g.shape(ids, 1, 2);
  let x = g.gather(w.param(g, t('embeddings.word_embeddings.weight'), [c.vocabSize, W]), ids); // [B, T, W]
  x = g.add(x, g.slice(w.param(g, t('embeddings.position_embeddings.weight'), [c.maxPositions, W]), g.ints([0]), seqLen, g.ints([0])));
  x = g.add(x, g.gather(w.param(g, t('embeddings.token_type_embeddings.weight'), [c.typeVocab, W]), g.ints([0], [], 'token_type'))); // row 0: [W]
  x = layerNorm(g, w, x, t('embeddings.LayerNorm'), W, c.eps);

  const m = g.cast(maskIn, 'float32'); // [B, T]
  // (mask - 1) * float32 max: 0 for real tokens, the float32 minimum for padding, as BertModel's extended mask
  const additive = g.reshape(g.mul(g.sub(m, g.floats([1], [], 'one')), g.floats([3.4028234663852886e38], [], 'f32_max')), [0, 1, 1, -1]); // [B, 1, 1, T]
  const states = [x]; // transformers' hidden_states: the embeddings, then every layer's output
  for (let i = 0; i < c.layers; i++) states.push((x = bertLayer(g, w, x, t(`encoder.layer.${i}`), c, additive)));
  return { x, m, states };
}

/** The config of the `hf-bert` tower: the resolved BERT and open_clip's HFTextEncoder head around it. */
export type BertTowerConfig = BertConfig & { pooler: HfPooler; proj: HfProj; embedDim: number; contextLength: number };

export function buildBertTextGraph(c: BertConfig, head: { pooler: HfPooler; proj: HfProj; embedDim: number }, w: Weights, prefix = 'text.'): BuiltGraph {
  return buildBertText({ ...c, ...head, contextLength: c.maxPositions }, w, prefix);
}

/**
 * Inputs: `input_ids` int64 [batch, tokens] (tokens <= max positions) and `attention_mask` int64 [batch, tokens]
 * (1 for real tokens, 0 for padding).
 * Outputs: `text_embeds` [batch, E] (open_clip encode_text, unnormalised).
 * Keys: `{prefix}transformer.*` (BertModel) and `{prefix}proj.*` (open_clip's projection).
 */
export function buildBertText(c: BertTowerConfig, w: Weights, prefix = 'text.'): BuiltGraph {
  const g = new GraphBuilder('bert_text');
  const W = c.width;
  const E = c.embedDim;
  const t = (k: string) => `${prefix}transformer.${k}`;
  const ids = g.input('input_ids', 'int64', ['batch', 'tokens']);
  const maskIn = g.input('attention_mask', 'int64', ['batch', 'tokens']);
  const { x, m } = bertEncode(g, w, c, ids, maskIn, t);

  let pooled: Value;
  if (c.pooler === 'mean_pooler') {
    const sum = g.op('ReduceSum', [g.mul(x, g.reshape(m, [0, -1, 1]) /* [B, T, 1] */), g.ints([1], [1], 'axis1')], { keepdims: 0 }); // [B, W]
    pooled = g.div(sum, g.op('ReduceSum', [m, g.ints([1], [1], 'axis1')], { keepdims: 1 })); // / [B, 1]
  } else {
    pooled = tokenAt(g, x, 0, 'cls_index'); // [B, W]
    if (c.pooler === 'cls_pooler') pooled = g.tanh(linear(g, w, pooled, t('pooler.dense'), W, W));
  }
  let embeds: Value;
  if (c.proj === 'mlp') {
    const hidden = Math.floor((W + E) / 2);
    const h = activation(g, g.matmul(pooled, w.linearT(g, `${prefix}proj.0.weight`, hidden, W)), 'gelu');
    embeds = g.matmul(h, w.linearT(g, `${prefix}proj.2.weight`, E, hidden));
  } else if (c.proj === 'linear') {
    embeds = g.matmul(pooled, w.linearT(g, `${prefix}proj.weight`, E, W));
  } else {
    embeds = pooled;
  }
  g.output(embeds, 'text_embeds', 'float32', ['batch', E]);
  // position_ids: an arange buffer older transformers saved with the weights. pooler.*: BertModel's
  // dense + tanh head, which only 'cls_pooler' reads (open_clip builds BERT without it for the other
  // poolers, but checkpoints saved from a BertModel with its pooler carry it).
  w.ignore(t('embeddings.position_ids'), t('embeddings.token_type_ids'));
  if (c.pooler !== 'cls_pooler') w.ignore(t('pooler.dense.weight'), t('pooler.dense.bias'));
  return g.built();
}
