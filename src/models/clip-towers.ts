// CLIP's two towers as ONNX graphs: the vision transformer (open_clip v2.24.0 `VisionTransformer.forward`)
// and the text transformer (`CLIP.encode_text`, `TextTransformer.forward`). Initializer names are the
// checkpoint keys.
import { GraphBuilder, type BuiltGraph, type Value } from '../graph/builder.ts';
import type { Activation, ClipConfig, TextConfig, VisionConfig } from './clip-config.ts';
import { afterClassToken, endTokenIndex, patchEmbed, poolAt, prependClassToken, tokenAt } from './towers/parts.ts';
import { layerNorm, linear, residualBlock, residualBlockAt, type BlockSpec } from './transformer.ts';
import type { Weights } from './weights.ts';

export type { BuiltGraph };

/** The config of the `open_clip-vit` tower: open_clip's CLIPVisionCfg read as data, plus what the model adds. */
export type OpenClipVitConfig = VisionConfig & { act: Activation; embedDim: number };
/** The config of the `open_clip-text` tower: open_clip's CLIPTextCfg read as data, plus what the model adds. */
export type OpenClipTextConfig = TextConfig & { act: Activation; embedDim: number };

/**
 * Inputs: `pixel_values` float32 [batch, 3, H, W].
 * Outputs: `image_embeds` [batch, embed_dim] (as encode_image returns, unnormalised) and
 * `patch_tokens` [batch, grid*grid, width] (after ln_post, before proj; open_clip `output_tokens=True`),
 * `patch_embeds` [batch, grid*grid, embed_dim] (the patch tokens through `proj`).
 */
export function buildOpenClipVit(v: OpenClipVitConfig, w: Weights, prefix = 'visual.'): BuiltGraph {
  const g = new GraphBuilder('clip_vision');
  const grid = v.imageSize / v.patchSize;
  const P = grid * grid;
  const p = (k: string) => `${prefix}${k}`;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, v.imageSize, v.imageSize]);

  const patches = patchEmbed(g, pixels, w.param(g, p('conv1.weight'), [v.width, 3, v.patchSize, v.patchSize]), null, v.width, v.patchSize, P);
  let x = prependClassToken(g, pixels, patches, w.param(g, p('class_embedding'), [v.width]), v.width); // [B, 1 + P, width]
  x = g.add(x, w.param(g, p('positional_embedding'), [P + 1, v.width]));
  if (v.lnPre) x = layerNorm(g, w, x, p('ln_pre'), v.width);

  const spec: BlockSpec = { width: v.width, heads: v.width / v.headWidth, mlpWidth: Math.round(v.width * v.mlpRatio), act: v.act, layerScale: v.layerScale };
  for (let i = 0; i < v.layers; i++) x = residualBlock(g, w, x, p(`transformer.resblocks.${i}`), spec);

  const pool = (t: Value, tokens: Value) => (v.poolType === 'tok' ? tokenAt(g, t, 0, 'cls_index') : g.op('ReduceMean', [tokens], { axes: [1], keepdims: 0 }));
  let pooled: Value;
  let tokens: Value;
  if (v.finalLnAfterPool) {
    tokens = afterClassToken(g, x, P);
    pooled = layerNorm(g, w, pool(x, tokens), p('ln_post'), v.width);
  } else {
    x = layerNorm(g, w, x, p('ln_post'), v.width);
    tokens = afterClassToken(g, x, P); // [B, P, width]
    pooled = pool(x, tokens);
  }
  const proj = w.param(g, p('proj'), [v.width, v.embedDim]);
  const embeds = g.matmul(pooled, proj); // [B, embed]
  g.output(embeds, 'image_embeds', 'float32', ['batch', v.embedDim]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', P, v.width]);
  // patch tokens in the joint embedding space, for zero-shot heatmaps (as MaskCLIP / CLIP Surgery project them)
  g.output(g.matmul(tokens, proj), 'patch_embeds', 'float32', ['batch', P, v.embedDim]);
  return g.built();
}

/**
 * Inputs: `input_ids` int64 [batch, tokens] with tokens <= context_length. Because of the causal mask,
 * positions after the end token do not change the pooled features, so callers may cut a batch to its
 * longest end token.
 * Outputs: `text_embeds` [batch, embed_dim] (as encode_text returns, unnormalised).
 * With the argmax pool, the last block runs on the end token's row only, unless `allTokens` keeps every token
 * through ln_final (GLoRIA's training loss reads the word features from ln_final's [batch, tokens, width] output).
 */
export function buildOpenClipText(t: OpenClipTextConfig, w: Weights, prefix = '', opts: { allTokens?: boolean } = {}): BuiltGraph {
  const g = new GraphBuilder('clip_text');
  const p = (k: string) => `${prefix}${k}`;
  const ids = g.input('input_ids', 'int64', ['batch', 'tokens']);
  const seqLen = g.shape(ids, 1, 2); // [1]

  let x = g.gather(w.param(g, p('token_embedding.weight'), [t.vocabSize, t.width]), ids); // [B, T, width]
  const pos = g.slice(w.param(g, p('positional_embedding'), [t.contextLength, t.width]), g.ints([0]), seqLen, g.ints([0])); // [T, width]
  x = g.add(x, pos);

  // the causal mask: MultiHeadAttention's unidirectional mode (open_clip's attn_mask: -inf above the diagonal)
  const spec: BlockSpec = { width: t.width, heads: t.heads, mlpWidth: Math.round(t.width * t.mlpRatio), act: t.act, layerScale: t.layerScale, causal: t.causalMask };
  let pooled: Value;
  if (t.poolType === 'argmax' && t.layers > 0 && !opts.allTokens) {
    // argmax: the end token has the highest id (open_clip's text_global_pool). Only its row of the last block's
    // output is read, so that block runs its query, MLP and ln_final on that row alone (residualBlockAt)
    const eot = endTokenIndex(g, ids, { kind: 'argmax' }); // [B]
    for (let i = 0; i < t.layers - 1; i++) x = residualBlock(g, w, x, p(`transformer.resblocks.${i}`), spec);
    const positions = g.slice(g.ints(Array.from({ length: t.contextLength }, (_, j) => j), [t.contextLength], 'positions'), g.ints([0]), seqLen, g.ints([0])); // [T]
    pooled = layerNorm(g, w, residualBlockAt(g, w, x, p(`transformer.resblocks.${t.layers - 1}`), spec, eot, positions), p('ln_final'), t.width); // [B, width]
  } else {
    for (let i = 0; i < t.layers; i++) x = residualBlock(g, w, x, p(`transformer.resblocks.${i}`), spec);
    x = layerNorm(g, w, x, p('ln_final'), t.width);
    pooled = t.poolType === 'argmax' ? poolAt(g, x, endTokenIndex(g, ids, { kind: 'argmax' }), t.width) : tokenAt(g, x, t.poolType === 'first' ? 0 : -1);
  }
  const embeds = t.projBias
    ? linear(g, w, pooled, p('text_projection'), t.embedDim, t.width)
    : g.matmul(pooled, w.param(g, p('text_projection'), [t.width, t.embedDim]));
  g.output(embeds, 'text_embeds', 'float32', ['batch', t.embedDim]);
  return g.built();
}

/** The open_clip ViT of a whole ClipConfig (the tower is `buildOpenClipVit`). */
export function buildVisionGraph(cfg: ClipConfig, w: Weights, prefix = 'visual.'): BuiltGraph {
  return buildOpenClipVit({ ...cfg.vision, act: cfg.act, embedDim: cfg.embedDim }, w, prefix);
}

/** The open_clip text transformer of a whole ClipConfig (the tower is `buildOpenClipText`). */
export function buildTextGraph(cfg: ClipConfig, w: Weights, prefix = '', opts: { allTokens?: boolean } = {}): BuiltGraph {
  return buildOpenClipText({ ...cfg.text, act: cfg.act, embedDim: cfg.embedDim }, w, prefix, opts);
}
