// CONCH's CoCa towers (Lu et al., Nature Medicine 2024; github:mahmoodlab/CONCH `conch/open_clip_custom`, a
// variant of open_clip's CoCa, Yu et al. 2022):
// - image: a timm VisionTransformer trunk (tokens after its final norm, class token included) read by two
//   attentional poolers (learned queries attending over the tokens): one query -> ln_contrast -> proj_contrast
//   gives the contrastive embedding; n queries -> ln_caption give the caption tokens the text decoder reads;
// - text: open_clip's TextTransformer with `embed_cls`: a learned class embedding appended after the tokens,
//   causal attention except that the class position does not see padding, ln_final on the class position,
//   then text_projection.
import { GraphBuilder, type BuiltGraph, type Value } from '../../graph/builder.ts';
import { ConfigError } from '../../errors.ts';
import { attend } from '../hf-transformer.ts';
import { block as timmBlock, type TimmVitConfig } from '../timm-vit.ts';
import type { Activation } from '../clip-config.ts';
import { activation, layerNorm, linear, residualBlock, type BlockSpec } from '../transformer.ts';
import type { Weights } from '../weights.ts';
import { afterClassToken, patchEmbed, prependClassToken } from './parts.ts';

export interface ConchVisionConfig {
  imageSize: number;
  patchSize: number;
  width: number;
  layers: number;
  heads: number;
  mlpWidth: number;
  /** the contrastive embedding width (CONCH: 512) */
  embedDim: number;
  /** the caption pooler's width (CONCH: 768) and query count (256) */
  captionDim: number;
  captionQueries: number;
  poolerHeads: number;
}

/** open_clip's CoCa image tower: its VisionTransformer with `attentional_pool: true` (coca_ViT-B-32, coca_ViT-L-14). */
export interface OpenClipCocaVisionConfig {
  imageSize: number;
  patchSize: number;
  width: number;
  layers: number;
  heads: number;
  mlpWidth: number;
  act: Activation;
  layerScale: boolean;
  lnPre: boolean;
  embedDim: number;
  queries: number;
  poolerHeads: number;
}

export interface ConchTextConfig {
  /** GELU (CONCH, open_clip's CoCa configs) or QuickGELU (an open_clip config with quick_gelu) */
  act?: Activation;
  /** positions including the class token (CONCH: 128, its tokenizer gives 127 ids; open_clip: context_length + 1) */
  contextLength: number;
  vocabSize: number;
  width: number;
  heads: number;
  layers: number;
  embedDim: number;
  padId: number;
}

/**
 * CONCH's `model_cfg` (conch_ViT-B-16.json) as the two tower configs, with CoCaVisionCfg's defaults
 * (width 768, 12 layers, 12 heads, mlp_ratio 4).
 * @example conchConfigs(JSON.parse(conchViTB16Json)).vision.imageSize // 448
 */
export function conchConfigs(cfg: Record<string, any>, file = 'open_clip_config.json'): { vision: ConchVisionConfig; text: ConchTextConfig } {
  const v = cfg.vision_cfg ?? {};
  const t = cfg.text_cfg ?? {};
  const num = (o: Record<string, unknown>, k: string, d: number | undefined, where: string) => {
    const x = o[k] ?? d;
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new ConfigError(`${where}.${k}: expected a number, got ${JSON.stringify(o[k])}`, { file });
    return x;
  };
  if (!v.attentional_pool_contrast) throw new ConfigError('vision_cfg.attentional_pool_contrast: the CONCH tower pools with its attentional pooler', { file });
  if ((v.n_queries_contrast ?? 1) !== 1) throw new ConfigError(`vision_cfg.n_queries_contrast ${v.n_queries_contrast}: one contrastive query is built`, { file });
  if (!t.embed_cls) throw new ConfigError('text_cfg.embed_cls: the CONCH text tower pools at its class token', { file });
  const width = num(v, 'width', 768, 'vision_cfg');
  return {
    vision: {
      imageSize: num(v, 'image_size', 224, 'vision_cfg'), patchSize: num(v, 'patch_size', 16, 'vision_cfg'), width,
      layers: num(v, 'layers', 12, 'vision_cfg'), heads: num(v, 'num_heads', 12, 'vision_cfg'), mlpWidth: width * num(v, 'mlp_ratio', 4, 'vision_cfg'),
      embedDim: num(cfg, 'embed_dim', undefined, 'model_cfg'), captionDim: num(cfg, 'embed_dim_caption', undefined, 'model_cfg'),
      captionQueries: num(v, 'n_queries_caption', 256, 'vision_cfg'),
      // CONCH's _build_vision_tower does not pass attn_pooler_heads to VisualModel: its poolers always have 8 heads
      poolerHeads: 8,
    },
    text: {
      contextLength: num(t, 'context_length', 77, 'text_cfg'), vocabSize: num(t, 'vocab_size', 49408, 'text_cfg'), width: num(t, 'width', 512, 'text_cfg'),
      heads: num(t, 'heads', 8, 'text_cfg'), layers: num(t, 'layers', 12, 'text_cfg'), embedDim: num(cfg, 'embed_dim', undefined, 'model_cfg'),
      padId: num(t, 'pad_id', 0, 'text_cfg'),
    },
  };
}

type Json = Record<string, unknown>;

function positive(o: Json, k: string, d: number, where: string, file: string): number {
  const x = o[k] ?? d;
  if (typeof x !== 'number' || !(x > 0)) throw new ConfigError(`${where}.${k}: expected a positive number, got ${JSON.stringify(o[k])}`, { file });
  return x;
}

/**
 * open_clip's `vision_cfg` with `attentional_pool: true` (CLIPVisionCfg defaults), as `_build_vision_tower` reads it.
 * @example openClipCocaVisionConfig({ width: 768, layers: 12, patch_size: 32, attentional_pool: true }, 512, false, 'open_clip_config.json').queries // 256
 */
export function openClipCocaVisionConfig(v: Json, embedDim: number, quickGelu: boolean, file: string): OpenClipCocaVisionConfig {
  if (v.attentional_pool !== true) throw new ConfigError(`vision_cfg.attentional_pool ${JSON.stringify(v.attentional_pool)}: the open_clip CoCa tower builds the boolean pooler ('parallel' / 'cascade' are open_clip's untested variants)`, { file });
  if ((v.pool_type ?? 'tok') !== 'tok') throw new ConfigError(`vision_cfg.pool_type '${String(v.pool_type)}': the CoCa tower takes the first query ('tok')`, { file });
  if ((v.pos_embed_type ?? 'learnable') !== 'learnable') throw new ConfigError(`vision_cfg.pos_embed_type '${String(v.pos_embed_type)}'`, { file });
  const num = (k: string, d: number) => positive(v, k, d, 'vision_cfg', file);
  const width = num('width', 768);
  const heads = width / num('head_width', 64);
  if (!Number.isInteger(heads)) throw new ConfigError(`vision_cfg: head_width does not divide width ${width}`, { file });
  return {
    imageSize: num('image_size', 224), patchSize: num('patch_size', 16), width, layers: num('layers', 12), heads,
    mlpWidth: Math.round(width * num('mlp_ratio', 4)), act: quickGelu ? 'quick_gelu' : 'gelu', layerScale: v.ls_init_value != null,
    lnPre: !v.no_ln_pre, embedDim, queries: num('attn_pooler_queries', 256), poolerHeads: num('attn_pooler_heads', 8),
  };
}

/**
 * open_clip's `text_cfg` with `embed_cls: true` (CoCa) as the class-token text tower: positions = context_length + 1.
 * @example openClipCocaTextConfig({ context_length: 76, width: 512, heads: 8, layers: 12, embed_cls: true }, 512, false, 'open_clip_config.json').contextLength // 77
 */
export function openClipCocaTextConfig(t: Json, embedDim: number, quickGelu: boolean, file: string): ConchTextConfig {
  if (t.embed_cls !== true) throw new ConfigError('text_cfg.embed_cls: the CoCa text tower pools at its appended class token', { file });
  for (const k of ['proj_bias', 'no_causal_mask', 'ls_init_value'] as const) if (t[k]) throw new ConfigError(`text_cfg.${k} ${JSON.stringify(t[k])} is not built by the CoCa text tower`, { file });
  if ((t.mlp_ratio ?? 4) !== 4) throw new ConfigError(`text_cfg.mlp_ratio ${JSON.stringify(t.mlp_ratio)}: the CoCa text tower is built with 4`, { file });
  const num = (k: string, d: number) => positive(t, k, d, 'text_cfg', file);
  const padId = t.pad_id ?? 0;
  if (typeof padId !== 'number') throw new ConfigError(`text_cfg.pad_id: expected a number, got ${JSON.stringify(t.pad_id)}`, { file });
  return {
    act: quickGelu ? 'quick_gelu' : 'gelu', contextLength: num('context_length', 77) + 1, vocabSize: num('vocab_size', 49408),
    width: num('width', 512), heads: num('heads', 8), layers: num('layers', 12), embedDim, padId,
  };
}

interface PoolerProjections {
  lnK: (x: Value) => Value;
  wv: Value;
  bv: Value;
  out: (x: Value) => Value;
}

/** A LayerNorm whose two parameters are taken once and applied wherever it is needed. */
function sharedLayerNorm(g: GraphBuilder, w: Weights, key: string, width: number, eps = 1e-5): (x: Value) => Value {
  const scale = w.param(g, `${key}.weight`, [width]);
  const bias = w.param(g, `${key}.bias`, [width]);
  return (x) => g.layerNorm(x, scale, bias, eps);
}

/**
 * AttentionalPooler (`transformer.py`): ln_q(query) attends over ln_k(x) through nn.MultiheadAttention, whose
 * q/k/v weights are separate (`q_proj_weight`...) when the context width differs from the pooler's and packed
 * (`in_proj_weight`) when they are equal. x [B, T, ctx] -> [B, queries, d]; also the value and output
 * projections, for the dense embeddings.
 */
function attentionalPooler(g: GraphBuilder, w: Weights, x: Value, key: string, d: number, ctx: number, queries: number, heads: number): { out: Value; proj: PoolerProjections } {
  const k = (s: string) => `${key}.${s}`;
  const q = layerNorm(g, w, w.param(g, k('query'), [queries, d]), k('ln_q'), d); // [n, d]
  const lnK = sharedLayerNorm(g, w, k('ln_k'), ctx);
  const kv = lnK(x); // [B, T, ctx]
  const bias = w.param(g, k('attn.in_proj_bias'), [3 * d]);
  const part = (v: Value, i: number) => g.slice(v, g.ints([i * d]), g.ints([(i + 1) * d]), g.ints([0]));
  let wq: Value, wk: Value, wv: Value;
  if (w.has(k('attn.in_proj_weight')) || ctx === d) {
    const packed = w.param(g, k('attn.in_proj_weight'), [3 * d, d]); // [3d, d]: q, k, v stacked
    [wq, wk, wv] = [0, 1, 2].map((i) => g.transpose(part(packed, i), [1, 0])) as [Value, Value, Value];
  } else {
    wq = w.linearT(g, k('attn.q_proj_weight'), d, d);
    wk = w.linearT(g, k('attn.k_proj_weight'), d, ctx);
    wv = w.linearT(g, k('attn.v_proj_weight'), d, ctx);
  }
  const bq = part(bias, 0);
  const bk = part(bias, 1);
  const bv = part(bias, 2);
  const qp = g.reshape(g.add(g.matmul(q, wq), bq), [1, queries, d]); // [1, n, d], broadcast over the batch
  const kp = g.add(g.matmul(kv, wk), bk); // [B, T, d]
  const vp = g.add(g.matmul(kv, wv), bv);
  const wo = w.linearT(g, k('attn.out_proj.weight'), d, d);
  const bo = w.param(g, k('attn.out_proj.bias'), [d]);
  const outProj = (v: Value) => g.add(g.matmul(v, wo), bo);
  return { out: outProj(attend(g, qp, kp, vp, d, heads)), proj: { lnK, wv, bv, out: outProj } };
}

/**
 * Inputs: `pixel_values` [batch, 3, S, S].
 * Outputs: `image_embeds` [batch, embedDim] (`encode_image(normalize=False)`), `patch_tokens` [batch, P, width]
 * (the trunk's tokens after its norm, class token dropped), `patch_embeds` [batch, P, embedDim] (each token
 * through the contrastive pool's value path alone, ln_contrast(out_proj(v_proj(ln_k(t)))) @ proj_contrast, the
 * attention-free dense projection of MaskCLIP) and `caption_tokens` [batch, captionQueries, captionDim].
 */
export function buildConchVision(cfg: ConchVisionConfig, w: Weights, prefix = 'visual.'): BuiltGraph {
  const g = new GraphBuilder('conch_vision');
  const p = (k: string) => `${prefix}${k}`;
  const t = (k: string) => p(`trunk.${k}`);
  const { width: W, patchSize: PS, imageSize: S, embedDim: E } = cfg;
  const grid = Math.floor(S / PS);
  const P = grid * grid;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, S, S]);
  const patches = patchEmbed(g, pixels, w.param(g, t('patch_embed.proj.weight'), [W, 3, PS, PS]), w.param(g, t('patch_embed.proj.bias'), [W]), W, PS, P);
  let x = prependClassToken(g, pixels, patches, w.param(g, t('cls_token'), [1, 1, W]), W); // [B, 1 + P, W]
  x = g.add(x, w.param(g, t('pos_embed'), [1, P + 1, W]));
  const trunk: TimmVitConfig = { name: 'conch', width: W, layers: cfg.layers, heads: cfg.heads, mlpWidth: cfg.mlpWidth, patchSize: PS, imageSize: S, eps: 1e-6, projBias: false };
  for (let i = 0; i < cfg.layers; i++) x = timmBlock(g, w, x, t(`blocks.${i}`), trunk);
  x = layerNorm(g, w, x, t('norm'), W, 1e-6); // [B, 1 + P, W]

  const contrast = attentionalPooler(g, w, x, p('attn_pool_contrast'), E, W, 1, cfg.poolerHeads);
  const lnC = sharedLayerNorm(g, w, p('ln_contrast'), E);
  const projC = w.param(g, p('proj_contrast'), [E, E]);
  const embeds = g.matmul(lnC(g.reshape(contrast.out, [-1, E])), projC); // [B, E]
  const tokens = afterClassToken(g, x, P); // [B, P, W]
  const value = g.add(g.matmul(contrast.proj.lnK(tokens), contrast.proj.wv), contrast.proj.bv); // [B, P, E]
  const dense = g.matmul(lnC(contrast.proj.out(value)), projC); // [B, P, E]
  const caption = attentionalPooler(g, w, x, p('attn_pool_caption'), cfg.captionDim, W, cfg.captionQueries, cfg.poolerHeads);
  const captionTokens = layerNorm(g, w, caption.out, p('ln_caption'), cfg.captionDim);

  g.output(embeds, 'image_embeds', 'float32', ['batch', E]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', P, W]);
  g.output(dense, 'patch_embeds', 'float32', ['batch', P, E]);
  g.output(captionTokens, 'caption_tokens', 'float32', ['batch', cfg.captionQueries, cfg.captionDim]);
  return g.built();
}

/**
 * open_clip v2.24.0's VisionTransformer with `attentional_pool: true` ("the original OpenCLIP CoCa setup",
 * transformer.py): conv1 -> [class; patches] + pos -> ln_pre -> resblocks -> attn_pool (n queries of embedDim over
 * all tokens) -> ln_post -> the first query ('tok' pool) @ proj.
 * Outputs: `image_embeds` [batch, embedDim] (`encode_image(normalize=False)`), `patch_tokens` [batch, P, width]
 * (the resblocks' tokens, class token dropped; open_clip has no norm there) and `patch_embeds` [batch, P,
 * embedDim]: each token through the pool's value path alone, ln_post(out_proj(v_proj(ln_k(t)))) @ proj.
 */
export function buildOpenClipCocaVision(cfg: OpenClipCocaVisionConfig, w: Weights, prefix = 'visual.'): BuiltGraph {
  const g = new GraphBuilder('open_clip_coca_vision');
  const p = (k: string) => `${prefix}${k}`;
  const { width: W, patchSize: PS, imageSize: S, embedDim: E } = cfg;
  const grid = Math.floor(S / PS);
  const P = grid * grid;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, S, S]);
  const patches = patchEmbed(g, pixels, w.param(g, p('conv1.weight'), [W, 3, PS, PS]), null, W, PS, P);
  let x = prependClassToken(g, pixels, patches, w.param(g, p('class_embedding'), [W]), W); // [B, 1 + P, W]
  x = g.add(x, w.param(g, p('positional_embedding'), [P + 1, W]));
  if (cfg.lnPre) x = layerNorm(g, w, x, p('ln_pre'), W);
  const spec: BlockSpec = { width: W, heads: cfg.heads, mlpWidth: cfg.mlpWidth, act: cfg.act, layerScale: cfg.layerScale };
  for (let i = 0; i < cfg.layers; i++) x = residualBlock(g, w, x, p(`transformer.resblocks.${i}`), spec);

  const pool = attentionalPooler(g, w, x, p('attn_pool'), E, W, cfg.queries, cfg.poolerHeads);
  const lnPost = sharedLayerNorm(g, w, p('ln_post'), E);
  const proj = w.param(g, p('proj'), [E, E]);
  const first = g.slice(lnPost(pool.out), g.ints([0]), g.ints([1]), g.ints([1])); // [B, 1, E]
  const embeds = g.matmul(g.reshape(first, [-1, E]), proj); // [B, E]
  const tokens = afterClassToken(g, x, P); // [B, P, W]
  const value = g.add(g.matmul(pool.proj.lnK(tokens), pool.proj.wv), pool.proj.bv); // [B, P, E]
  const dense = g.matmul(lnPost(pool.proj.out(value)), proj); // [B, P, E]
  g.output(embeds, 'image_embeds', 'float32', ['batch', E]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', P, W]);
  g.output(dense, 'patch_embeds', 'float32', ['batch', P, E]);
  return g.built();
}

/** open_clip's ResidualAttentionBlock with a per-row mask [B, 1, T, T] (nn.MultiheadAttention's packed in_proj, exact GELU). */
function textBlock(g: GraphBuilder, w: Weights, x: Value, key: string, c: ConchTextConfig, mask: Value): Value {
  const W = c.width;
  const k = (s: string) => `${key}.${s}`;
  const h = layerNorm(g, w, x, k('ln_1'), W);
  const qkv = g.add(g.matmul(h, w.linearT(g, k('attn.in_proj_weight'), 3 * W, W)), w.param(g, k('attn.in_proj_bias'), [3 * W])); // [B, T, 3W]
  const part = (i: number) => g.slice(qkv, g.ints([i * W]), g.ints([(i + 1) * W]), g.ints([2]));
  x = g.add(x, linear(g, w, attend(g, part(0), part(1), part(2), W, c.heads, mask), k('attn.out_proj'), W, W));
  const m = linear(g, w, layerNorm(g, w, x, k('ln_2'), W), k('mlp.c_fc'), 4 * W, W);
  return g.add(x, linear(g, w, activation(g, m, c.act ?? 'gelu'), k('mlp.c_proj'), W, 4 * W));
}

/**
 * Inputs: `input_ids` int64 [batch, T] with T < contextLength: the ids the text tower sees (CONCH's tokenizer
 * output without its last, placeholder position, as `encode_text` drops it). The class position's embedding
 * depends on T, so a batch is fed whole (never cut to its longest text).
 * Outputs: `text_embeds` [batch, embedDim] (`encode_text(normalize=False)`).
 */
export function buildConchText(cfg: ConchTextConfig, w: Weights, prefix = 'text.'): BuiltGraph {
  const g = new GraphBuilder('conch_text');
  const p = (k: string) => `${prefix}${k}`;
  const W = cfg.width;
  const C = cfg.contextLength;
  const ids = g.input('input_ids', 'int64', ['batch', 'tokens']);
  const n = g.add(g.shape(ids, 1, 2), g.ints([1])); // [1]: T + 1 positions with the class token

  let x = g.gather(w.param(g, p('token_embedding.weight'), [cfg.vocabSize, W]), ids); // [B, T, W]
  const cls = g.reshape(w.param(g, p('cls_emb'), [W]), [1, 1, W]);
  x = g.concat([x, g.expand(cls, g.concat([g.shape(ids, 0, 1), g.ints([1, W])], 0))], 1); // [B, T + 1, W]
  x = g.add(x, g.slice(w.param(g, p('positional_embedding'), [C, W]), g.ints([0]), n, g.ints([0])));

  // mask: causal, and on the class row (the last) column c is hidden when ids[c - 1] is padding (column 0 never);
  // open_clip's build_cls_mask pads the key mask on the left, hence the shift by one
  const causalTable = new Float32Array(C * C);
  for (let i = 0; i < C; i++) for (let j = i + 1; j < C; j++) causalTable[i * C + j] = -Infinity;
  const causal = g.slice(g.weight('attn_mask', causalTable, [C, C]), g.ints([0, 0]), g.concat([n, n], 0), g.ints([0, 1])); // [T+1, T+1]
  const isPad = g.cast(g.op('Equal', [ids, g.ints([cfg.padId], [], 'pad_id')]), 'float32'); // [B, T]
  const hidden = g.op('Pad', [isPad, g.ints([0, 1, 0, 0], [4], 'pad_left')]); // [B, T+1]: 1 where column c is hidden
  const positions = g.op('Range', [g.ints([0], [], 'zero'), g.reshape(n, []), g.ints([1], [], 'step')]); // [T+1]
  const lastRow = g.cast(g.op('Equal', [positions, g.sub(g.reshape(n, []), g.ints([1], [], 'one_i'))]), 'float32'); // [T+1]
  const clsHidden = g.mul(g.reshape(lastRow, [1, -1, 1]), g.op('Unsqueeze', [hidden, g.ints([1])])); // [B, T+1, T+1]
  const padMask = g.op('Where', [g.op('Greater', [clsHidden, g.floats([0.5], [], 'half_f')]), g.floats([-Infinity], [], 'neg_inf'), g.floats([0], [], 'zero_f')]);
  const mask = g.op('Unsqueeze', [g.add(padMask, causal), g.ints([1])]); // [B, 1, T+1, T+1]

  for (let i = 0; i < cfg.layers; i++) x = textBlock(g, w, x, p(`transformer.resblocks.${i}`), cfg, mask);
  const last = g.gather(x, g.ints([-1], [], 'cls_position'), 1); // [B, W]
  const pooled = layerNorm(g, w, last, p('ln_final'), W);
  g.output(g.matmul(pooled, w.param(g, p('text_projection'), [W, cfg.embedDim])), 'text_embeds', 'float32', ['batch', cfg.embedDim]);
  return g.built();
}
