// The Hugging Face transformers CLIPModel family (`model_type: "clip"`): PubMedCLIP
// (flaviagiammarino/pubmed-clip-vit-base-patch32), PLIP (vinid/plip) and any transformers CLIP checkpoint.
// Graphs follow transformers' modeling_clip.py: CLIPVisionTransformer (class token, pre_layrnorm, encoder,
// post_layernorm on the class token, visual_projection) and CLIPTextTransformer (causal mask,
// final_layer_norm, end-token pooling, text_projection). Initializer names are the checkpoint keys.
import type { StateDict } from '../checkpoint/types.ts';
import { UnsupportedError } from '../errors.ts';
import { GraphBuilder, type Value } from '../graph/builder.ts';
import type { BuiltGraph } from './clip-towers.ts';
import type { BuiltModel, Family } from './family.ts';
import { hfPreprocess, num, specialToken, sub, type HfFolder, type Json } from './hf-config.ts';
import { hfEncoderLayer, parseHfActivation, type HfActivation, type HfLayerSpec } from './hf-transformer.ts';
import { logitScaleOf, OPENAI_MEAN, OPENAI_STD } from './open-clip-family.ts';
import { layerNorm } from './transformer.ts';
import { Weights } from './weights.ts';

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

/**
 * Inputs: `pixel_values` float32 [batch, 3, H, W].
 * Outputs: `image_embeds` [batch, projection_dim] (CLIPModel.get_image_features), `patch_tokens`
 * [batch, grid*grid, width] (the encoder's patch tokens through post_layernorm, as open_clip's ln_post
 * tokens) and `patch_embeds` [batch, grid*grid, projection_dim] (those tokens through visual_projection).
 */
export function buildHfClipVisionGraph(cfg: HfClipConfig, w: Weights): BuiltGraph {
  const v = cfg.vision;
  const g = new GraphBuilder('hf_clip_vision');
  const grid = Math.floor(v.imageSize / v.patchSize);
  const P = grid * grid;
  const E = cfg.projectionDim;
  const p = (k: string) => `vision_model.${k}`;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, v.imageSize, v.imageSize]);
  const conv = g.conv(pixels, w.param(g, p('embeddings.patch_embedding.weight'), [v.width, 3, v.patchSize, v.patchSize]), null, [v.patchSize, v.patchSize], [v.patchSize, v.patchSize]);
  const patches = g.transpose(g.reshape(conv, [0, v.width, P]), [0, 2, 1]); // [B, P, width]
  const cls = g.reshape(w.param(g, p('embeddings.class_embedding'), [v.width]), [1, 1, v.width]); // [1, 1, width]
  const clsShape = g.concat([g.shape(pixels, 0, 1), g.ints([1, v.width])], 0);
  let x = g.concat([g.expand(cls, clsShape), patches], 1); // [B, 1 + P, width]
  x = g.add(x, w.param(g, p('embeddings.position_embedding.weight'), [P + 1, v.width]));
  x = layerNorm(g, w, x, p('pre_layrnorm'), v.width, v.eps);
  for (let i = 0; i < v.layers; i++) x = hfEncoderLayer(g, w, x, p(`encoder.layers.${i}`), layerSpec(v));
  // post_layernorm is per token, so normalising every token and then taking the class token is exact
  const normed = layerNorm(g, w, x, p('post_layernorm'), v.width, v.eps); // [B, 1 + P, width]
  const pooled = g.gather(normed, g.ints([0], [], 'cls_index'), 1); // [B, width]
  const tokens = g.slice(normed, g.ints([1]), g.ints([P + 1]), g.ints([1])); // [B, P, width]
  const proj = w.linearT(g, 'visual_projection.weight', E, v.width); // [width, E]
  g.output(g.matmul(pooled, proj), 'image_embeds', 'float32', ['batch', E]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', P, v.width]);
  g.output(g.matmul(tokens, proj), 'patch_embeds', 'float32', ['batch', P, E]);
  return g.built();
}

/**
 * Inputs: `input_ids` int64 [batch, tokens], tokens <= max_position_embeddings. With the causal mask,
 * positions after the end token cannot change its features, so callers may cut a batch after its last end token.
 * Outputs: `text_embeds` [batch, projection_dim] (CLIPModel.get_text_features).
 */
export function buildHfClipTextGraph(cfg: HfClipConfig, w: Weights): BuiltGraph {
  const t = cfg.text;
  const g = new GraphBuilder('hf_clip_text');
  const p = (k: string) => `text_model.${k}`;
  const ids = g.input('input_ids', 'int64', ['batch', 'tokens']);
  const seqLen = g.shape(ids, 1, 2); // [1]
  let x = g.gather(w.param(g, p('embeddings.token_embedding.weight'), [t.vocabSize, t.width]), ids); // [B, T, width]
  const pos = g.slice(w.param(g, p('embeddings.position_embedding.weight'), [t.maxPositions, t.width]), g.ints([0]), seqLen, g.ints([0])); // [T, width]
  x = g.add(x, pos);
  const C = t.maxPositions;
  const m = new Float32Array(C * C);
  for (let i = 0; i < C; i++) for (let j = i + 1; j < C; j++) m[i * C + j] = -Infinity;
  const mask = g.slice(g.weight('causal_mask', m, [C, C]), g.ints([0, 0]), g.concat([seqLen, seqLen], 0), g.ints([0, 1])); // [T, T]
  for (let i = 0; i < t.layers; i++) x = hfEncoderLayer(g, w, x, p(`encoder.layers.${i}`), layerSpec(t, mask));
  x = layerNorm(g, w, x, p('final_layer_norm'), t.width, t.eps); // [B, T, width]
  // ONNX ArgMax returns the first maximal index (select_last_index = 0), as torch.argmax does
  const key = t.pool === 'argmax' ? g.cast(ids, 'float32') : g.cast(g.op('Equal', [ids, g.ints([t.eosTokenId], [], 'eos_id')]), 'float32');
  const eot = g.op('ArgMax', [key], { axis: -1, keepdims: 0 }); // [B]
  const index = g.expand(g.reshape(eot, [-1, 1, 1]), g.ints([1, 1, t.width])); // [B, 1, width]
  const pooled = g.reshape(g.op('GatherElements', [x, index], { axis: 1 }), [-1, t.width]); // [B, width]
  const embeds = g.matmul(pooled, w.linearT(g, 'text_projection.weight', cfg.projectionDim, t.width));
  g.output(embeds, 'text_embeds', 'float32', ['batch', cfg.projectionDim]);
  return g.built();
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

export const hfClipFamily: Family = {
  name: 'hf_clip',
  matches: (src) => src.format === 'hf' && src.hf?.config.model_type === 'clip',
  build(src, sd: StateDict): BuiltModel {
    const f = src.hf!;
    const cfg = parseHfClipConfig(f.config, `${f.dir}/config.json`);
    const w = new Weights(sd, src.weightsFile);
    const vision = buildHfClipVisionGraph(cfg, w);
    const text = buildHfClipTextGraph(cfg, w);
    // position_ids are index buffers (arange), not weights
    w.ignore('logit_scale', 'vision_model.embeddings.position_ids', 'text_model.embeddings.position_ids');
    w.finish(['']);
    const { padId, contextLength } = hfClipTextSettings(f, cfg);
    return {
      vision,
      text,
      // with the field names `clipmed info` reads (poolType, contextLength) beside transformers' own
      architecture: { ...cfg, vision: { ...cfg.vision, poolType: 'tok' }, text: { ...cfg.text, contextLength, poolType: cfg.text.pool } },
      embedDim: cfg.projectionDim,
      patchTokens: { grid: Math.floor(cfg.vision.imageSize / cfg.vision.patchSize), width: cfg.vision.width },
      textSpec: {
        tokenizer: { kind: 'clip-bpe' },
        contextLength,
        padId,
        // the end token 49407 is the largest CLIP BPE id, so the batch cut at the last argmax keeps every end token
        cutToEnd: true,
        attentionMask: false,
        tokenTypeIds: false,
      },
      preprocess: hfPreprocess(f.preprocessor, cfg.vision.imageSize, f.dir, { mean: OPENAI_MEAN, std: OPENAI_STD, centerCrop: true }),
      score: { kind: 'softmax', logitScale: logitScaleOf(sd) },
    };
  },
};
