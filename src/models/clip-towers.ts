// CLIP's two towers as ONNX graphs: the vision transformer (open_clip v2.24.0 `VisionTransformer.forward`)
// and the text transformer (`CLIP.encode_text`). Initializer names are the checkpoint keys.
import { GraphBuilder, type BuiltGraph, type Value } from '../graph/builder.ts';
import type { ClipConfig } from './clip-config.ts';
import { layerNorm, linear, residualBlock, type BlockSpec } from './transformer.ts';
import type { Weights } from './weights.ts';

export type { BuiltGraph };

/**
 * Inputs: `pixel_values` float32 [batch, 3, H, W].
 * Outputs: `image_embeds` [batch, embed_dim] (as encode_image returns, unnormalised) and
 * `patch_tokens` [batch, grid*grid, width] (after ln_post, before proj; open_clip `output_tokens=True`),
 * `patch_embeds` [batch, grid*grid, embed_dim] (the patch tokens through `proj`).
 */
export function buildVisionGraph(cfg: ClipConfig, w: Weights, prefix = 'visual.'): BuiltGraph {
  const v = cfg.vision;
  const g = new GraphBuilder('clip_vision');
  const grid = v.imageSize / v.patchSize;
  const P = grid * grid;
  const p = (k: string) => `${prefix}${k}`;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, v.imageSize, v.imageSize]);

  const conv = g.conv(pixels, w.param(g, p('conv1.weight'), [v.width, 3, v.patchSize, v.patchSize]), null, [v.patchSize, v.patchSize], [v.patchSize, v.patchSize]);
  // [B, width, grid, grid] -> [B, grid*grid, width]
  const patches = g.transpose(g.reshape(conv, [0, v.width, P]), [0, 2, 1]);
  // class token, broadcast over the batch: [1, 1, width] expanded to [B, 1, width]
  const cls = g.reshape(w.param(g, p('class_embedding'), [v.width]), [1, 1, v.width]);
  const clsShape = g.concat([g.shape(pixels, 0, 1), g.ints([1, v.width])], 0);
  let x = g.concat([g.expand(cls, clsShape), patches], 1); // [B, 1 + P, width]
  x = g.add(x, w.param(g, p('positional_embedding'), [P + 1, v.width]));
  if (v.lnPre) x = layerNorm(g, w, x, p('ln_pre'), v.width);

  const spec: BlockSpec = { width: v.width, heads: v.width / v.headWidth, mlpWidth: Math.round(v.width * v.mlpRatio), act: cfg.act, layerScale: v.layerScale };
  for (let i = 0; i < v.layers; i++) x = residualBlock(g, w, x, p(`transformer.resblocks.${i}`), spec);

  const tokensOf = (t: Value) => g.slice(t, g.ints([1]), g.ints([P + 1]), g.ints([1])); // [B, P, width]
  let pooled: Value;
  let tokens: Value;
  if (v.finalLnAfterPool) {
    tokens = tokensOf(x);
    pooled = v.poolType === 'tok' ? g.gather(x, g.ints([0], [], 'cls_index'), 1) : g.op('ReduceMean', [tokens], { axes: [1], keepdims: 0 });
    pooled = layerNorm(g, w, pooled, p('ln_post'), v.width);
  } else {
    x = layerNorm(g, w, x, p('ln_post'), v.width);
    tokens = tokensOf(x);
    pooled = v.poolType === 'tok' ? g.gather(x, g.ints([0], [], 'cls_index'), 1) : g.op('ReduceMean', [tokens], { axes: [1], keepdims: 0 });
  }
  const proj = w.param(g, p('proj'), [v.width, cfg.embedDim]);
  const embeds = g.matmul(pooled, proj); // [B, embed]
  g.output(embeds, 'image_embeds', 'float32', ['batch', cfg.embedDim]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', P, v.width]);
  // patch tokens in the joint embedding space, for zero-shot heatmaps (as MaskCLIP / CLIP Surgery project them)
  g.output(g.matmul(tokens, proj), 'patch_embeds', 'float32', ['batch', P, cfg.embedDim]);
  return g.built();
}

/**
 * Inputs: `input_ids` int64 [batch, tokens] with tokens <= context_length. Because of the causal mask,
 * positions after the end token do not change the pooled features, so callers may cut a batch to its
 * longest end token.
 * Outputs: `text_embeds` [batch, embed_dim] (as encode_text returns, unnormalised).
 */
export function buildTextGraph(cfg: ClipConfig, w: Weights, prefix = ''): BuiltGraph {
  const t = cfg.text;
  const g = new GraphBuilder('clip_text');
  const p = (k: string) => `${prefix}${k}`;
  const ids = g.input('input_ids', 'int64', ['batch', 'tokens']);
  const seqLen = g.shape(ids, 1, 2); // [1]

  let x = g.gather(w.param(g, p('token_embedding.weight'), [t.vocabSize, t.width]), ids); // [B, T, width]
  const pos = g.slice(w.param(g, p('positional_embedding'), [t.contextLength, t.width]), g.ints([0]), seqLen, g.ints([0])); // [T, width]
  x = g.add(x, pos);

  let mask: Value | undefined;
  if (t.causalMask) {
    // additive causal mask, -inf above the diagonal, cut to [T, T]
    const C = t.contextLength;
    const m = new Float32Array(C * C);
    for (let i = 0; i < C; i++) for (let j = i + 1; j < C; j++) m[i * C + j] = -Infinity;
    const full = g.weight('attn_mask', m, [C, C]);
    mask = g.slice(full, g.ints([0, 0]), g.concat([seqLen, seqLen], 0), g.ints([0, 1]));
  }
  const spec: BlockSpec = { width: t.width, heads: t.heads, mlpWidth: Math.round(t.width * t.mlpRatio), act: cfg.act, layerScale: t.layerScale, mask };
  for (let i = 0; i < t.layers; i++) x = residualBlock(g, w, x, p(`transformer.resblocks.${i}`), spec);
  x = layerNorm(g, w, x, p('ln_final'), t.width);

  let pooled: Value;
  if (t.poolType === 'argmax') {
    // the end token has the highest id, so argmax over ids finds it (as open_clip's text_global_pool)
    const eot = g.op('ArgMax', [g.cast(ids, 'float32')], { axis: -1, keepdims: 0 }); // [B]
    const index = g.expand(g.reshape(eot, [-1, 1, 1]), g.ints([1, 1, t.width])); // [B, 1, width]
    pooled = g.reshape(g.op('GatherElements', [x, index], { axis: 1 }), [-1, t.width]); // [B, width]
  } else {
    pooled = g.gather(x, g.ints([t.poolType === 'first' ? 0 : -1], [], 'pool_index'), 1);
  }
  const embeds = t.projBias
    ? linear(g, w, pooled, p('text_projection'), cfg.embedDim, t.width)
    : g.matmul(pooled, w.param(g, p('text_projection'), [t.width, cfg.embedDim]));
  g.output(embeds, 'text_embeds', 'float32', ['batch', cfg.embedDim]);
  return g.built();
}
