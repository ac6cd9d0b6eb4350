// The Hugging Face transformers CLIPModel family (`model_type: "clip"`): PubMedCLIP
// (flaviagiammarino/pubmed-clip-vit-base-patch32), PLIP (vinid/plip) and any transformers CLIP checkpoint.
// Graphs follow transformers' modeling_clip.py: CLIPVisionTransformer (class token, pre_layrnorm, encoder,
// post_layernorm on the class token, visual_projection) and CLIPTextTransformer (causal mask,
// final_layer_norm, end-token pooling, text_projection). Initializer names are the checkpoint keys.
import { UnsupportedError } from '../errors.ts';
import { GraphBuilder, type Value } from '../graph/builder.ts';
import type { BuiltGraph } from './clip-towers.ts';
import { num, specialToken, sub, type HfFolder, type Json } from './hf-config.ts';
import { hfEncoderLayer, hfEncoderLayerAt, parseHfActivation, type HfActivation, type HfLayerSpec } from './hf-transformer.ts';
import { afterClassToken, causalMask, endTokenIndex, patchEmbed, poolAt, prependClassToken, tokenAt } from './towers/parts.ts';
import { layerNorm } from './transformer.ts';
import type { Weights } from './weights.ts';

export interface HfTowerConfig {
  width: number;
  layers: number;
  heads: number;
  mlpWidth: number;
  act: HfActivation;
  eps: number;
}

export interface HfClipConfig {
  projectionDim: number;
  vision: HfTowerConfig & { imageSize: number; patchSize: number };
  text: HfTowerConfig & {
    vocabSize: number;
    maxPositions: number;
    eosTokenId: number;
    /**
     * transformers' CLIPTextTransformer pools at `input_ids.argmax(-1)` when `eos_token_id == 2` (configs
     * saved before the end token was configurable, openai/clip-vit-* and what derives from them), and at
     * the first position holding `eos_token_id` otherwise. Both are built as transformers has them.
     */
    pool: 'argmax' | 'first-eos';
  };
}

function tower(c: Json, where: string, file: string, d: { width: number; layers: number; heads: number; mlp: number }): HfTowerConfig {
  return {
    width: num(c, 'hidden_size', d.width, where, file),
    layers: num(c, 'num_hidden_layers', d.layers, where, file),
    heads: num(c, 'num_attention_heads', d.heads, where, file),
    mlpWidth: num(c, 'intermediate_size', d.mlp, where, file),
    act: parseHfActivation(c.hidden_act ?? 'quick_gelu', file),
    eps: num(c, 'layer_norm_eps', 1e-5, where, file),
  };
}

/** `text_config` / `vision_config`, overridden by the older `text_config_dict` / `vision_config_dict` where present. */
function towerConfig(cfg: Json, key: string, file: string): Json {
  const legacy = cfg[`${key}_dict`];
  const hasLegacy = typeof legacy === 'object' && legacy !== null && !Array.isArray(legacy);
  if (cfg[key] == null && hasLegacy) return legacy as Json;
  return { ...sub(cfg, key, file), ...(hasLegacy ? (legacy as Json) : {}) };
}

/**
 * Read a transformers CLIPConfig (defaults as transformers' CLIPTextConfig / CLIPVisionConfig). Old
 * configs carry `text_config_dict` / `vision_config_dict`, which override `text_config` / `vision_config`.
 * @example parseHfClipConfig(JSON.parse(readFileSync('config.json', 'utf8'))).text.pool // 'argmax' for openai/clip-vit-base-patch32
 */
export function parseHfClipConfig(cfg: Json, file = 'config.json'): HfClipConfig {
  if (cfg.model_type !== 'clip') throw new UnsupportedError(`model_type '${String(cfg.model_type)}' is not 'clip'`, { file });
  const t = towerConfig(cfg, 'text_config', file);
  const v = towerConfig(cfg, 'vision_config', file);
  if ((v.num_channels ?? 3) !== 3) throw new UnsupportedError(`vision_config.num_channels ${String(v.num_channels)}: only 3 is supported`, { file });
  const eos = num(t, 'eos_token_id', 49407, 'text_config', file);
  const vt = tower(v, 'vision_config', file, { width: 768, layers: 12, heads: 12, mlp: 3072 });
  const tt = tower(t, 'text_config', file, { width: 512, layers: 12, heads: 8, mlp: 2048 });
  for (const [name, x] of [['vision_config', vt], ['text_config', tt]] as const) {
    if (x.width % x.heads !== 0) throw new UnsupportedError(`${name}: hidden_size ${x.width} is not a multiple of num_attention_heads ${x.heads}`, { file });
  }
  return {
    projectionDim: num(cfg, 'projection_dim', 512, 'config', file),
    vision: { ...vt, imageSize: num(v, 'image_size', 224, 'vision_config', file), patchSize: num(v, 'patch_size', 32, 'vision_config', file) },
    text: {
      ...tt,
      vocabSize: num(t, 'vocab_size', 49408, 'text_config', file),
      maxPositions: num(t, 'max_position_embeddings', 77, 'text_config', file),
      eosTokenId: eos,
      pool: eos === 2 ? 'argmax' : 'first-eos',
    },
  };
}

const layerSpec = (c: HfTowerConfig, mask?: Value): HfLayerSpec => ({ width: c.width, heads: c.heads, mlpWidth: c.mlpWidth, act: c.act, eps: c.eps, mask });

/** The config of the `hf-clip-vision` tower (CLIPVisionConfig read as data, with CLIPConfig's projection_dim). */
export type HfClipVisionTowerConfig = HfClipConfig['vision'] & { projectionDim: number };
/** The config of the `hf-clip-text` tower (CLIPTextConfig read as data, with CLIPConfig's projection_dim). */
export type HfClipTextTowerConfig = HfClipConfig['text'] & { projectionDim: number };

/**
 * Inputs: `pixel_values` float32 [batch, 3, H, W].
 * Outputs: `image_embeds` [batch, projection_dim] (CLIPModel.get_image_features), `patch_tokens`
 * [batch, grid*grid, width] (the encoder's patch tokens through post_layernorm, as open_clip's ln_post
 * tokens) and `patch_embeds` [batch, grid*grid, projection_dim] (those tokens through visual_projection).
 * Keys: `{prefix}vision_model.*`, `{prefix}visual_projection.weight`.
 */
export function buildHfClipVision(v: HfClipVisionTowerConfig, w: Weights, prefix = ''): BuiltGraph {
  const g = new GraphBuilder('hf_clip_vision');
  const grid = Math.floor(v.imageSize / v.patchSize);
  const P = grid * grid;
  const E = v.projectionDim;
  const p = (k: string) => `${prefix}vision_model.${k}`;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, v.imageSize, v.imageSize]);
  const patches = patchEmbed(g, pixels, w.param(g, p('embeddings.patch_embedding.weight'), [v.width, 3, v.patchSize, v.patchSize]), null, v.width, v.patchSize, P);
  let x = prependClassToken(g, pixels, patches, w.param(g, p('embeddings.class_embedding'), [v.width]), v.width); // [B, 1 + P, width]
  x = g.add(x, w.param(g, p('embeddings.position_embedding.weight'), [P + 1, v.width]));
  x = layerNorm(g, w, x, p('pre_layrnorm'), v.width, v.eps);
  for (let i = 0; i < v.layers; i++) x = hfEncoderLayer(g, w, x, p(`encoder.layers.${i}`), layerSpec(v));
  // post_layernorm is per token, so normalising every token and then taking the class token is exact
  const normed = layerNorm(g, w, x, p('post_layernorm'), v.width, v.eps); // [B, 1 + P, width]
  const pooled = tokenAt(g, normed, 0, 'cls_index'); // [B, width]
  const tokens = afterClassToken(g, normed, P); // [B, P, width]
  const proj = w.linearT(g, `${prefix}visual_projection.weight`, E, v.width); // [width, E]
  g.output(g.matmul(pooled, proj), 'image_embeds', 'float32', ['batch', E]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', P, v.width]);
  g.output(g.matmul(tokens, proj), 'patch_embeds', 'float32', ['batch', P, E]);
  w.ignore(p('embeddings.position_ids')); // an arange buffer, not a weight
  return g.built();
}

/**
 * Inputs: `input_ids` int64 [batch, tokens], tokens <= max_position_embeddings. With the causal mask,
 * positions after the end token cannot change its features, so callers may cut a batch after its last end token.
 * Outputs: `text_embeds` [batch, projection_dim] (CLIPModel.get_text_features).
 * Keys: `{prefix}text_model.*`, `{prefix}text_projection.weight`.
 */
export function buildHfClipText(t: HfClipTextTowerConfig, w: Weights, prefix = ''): BuiltGraph {
  const g = new GraphBuilder('hf_clip_text');
  const p = (k: string) => `${prefix}text_model.${k}`;
  const ids = g.input('input_ids', 'int64', ['batch', 'tokens']);
  const seqLen = g.shape(ids, 1, 2); // [1]
  let x = g.gather(w.param(g, p('embeddings.token_embedding.weight'), [t.vocabSize, t.width]), ids); // [B, T, width]
  const pos = g.slice(w.param(g, p('embeddings.position_embedding.weight'), [t.maxPositions, t.width]), g.ints([0]), seqLen, g.ints([0])); // [T, width]
  x = g.add(x, pos);
  const mask = causalMask(g, t.maxPositions, seqLen, 'causal_mask'); // [T, T]
  const eot = endTokenIndex(g, ids, t.pool === 'argmax' ? { kind: 'argmax' } : { kind: 'first-eos', eosId: t.eosTokenId }); // [B]
  // only the end token's row of the last layer is read: that layer runs its query, MLP and final_layer_norm on it alone
  for (let i = 0; i < t.layers - 1; i++) x = hfEncoderLayer(g, w, x, p(`encoder.layers.${i}`), layerSpec(t, mask));
  const last = t.layers > 0 ? hfEncoderLayerAt(g, w, x, p(`encoder.layers.${t.layers - 1}`), layerSpec(t, mask), eot) : poolAt(g, x, eot, t.width); // [B, width]
  const pooled = layerNorm(g, w, last, p('final_layer_norm'), t.width, t.eps); // [B, width]
  const embeds = g.matmul(pooled, w.linearT(g, `${prefix}text_projection.weight`, t.projectionDim, t.width));
  g.output(embeds, 'text_embeds', 'float32', ['batch', t.projectionDim]);
  w.ignore(p('embeddings.position_ids'));
  return g.built();
}

export function buildHfClipVisionGraph(cfg: HfClipConfig, w: Weights): BuiltGraph {
  return buildHfClipVision({ ...cfg.vision, projectionDim: cfg.projectionDim }, w);
}

export function buildHfClipTextGraph(cfg: HfClipConfig, w: Weights): BuiltGraph {
  return buildHfClipText({ ...cfg.text, projectionDim: cfg.projectionDim }, w);
}

/** CLIP BPE ids of the special tokens a transformers CLIP tokenizer may pad with. */
const CLIP_SPECIAL_IDS: Record<string, number> = { '<|endoftext|>': 49407, '<|startoftext|>': 49406, '!': 0 };

/** The pad id and context length of the folder's CLIPTokenizer (tokenizer_config.json, special_tokens_map.json). */
export function hfClipTextSettings(f: HfFolder, cfg: HfClipConfig): { padId: number; contextLength: number } {
  const file = f.dir;
  const pad = specialToken(f, 'pad_token');
  if (pad === undefined) throw new UnsupportedError('no pad_token in tokenizer_config.json or special_tokens_map.json: the padding id is unknown', { file });
  const padId = CLIP_SPECIAL_IDS[pad];
  if (padId === undefined) throw new UnsupportedError(`pad_token '${pad}': known CLIP pad tokens are ${Object.keys(CLIP_SPECIAL_IDS).join(', ')}`, { file });
  const mml = f.tokenizerConfig?.model_max_length;
  // transformers writes a huge sentinel (1e30) when a tokenizer has no limit; the positions then decide
  const contextLength = typeof mml === 'number' && mml > 0 && mml < cfg.text.maxPositions ? mml : cfg.text.maxPositions;
  return { padId, contextLength };
}
