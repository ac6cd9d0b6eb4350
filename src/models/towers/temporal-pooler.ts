// BioViL-T's temporal pooler (hi-ml-multimodal `image/model/transformer.py` VisionTransformerPooler; Bannur et al.,
// CVPR 2023): the current and the previous image's patch maps as one sequence [current; previous], DETR-style
// sine position embeddings plus a learned type embedding (current / previous) added to the normed input of
// every block's queries, keys and values, `blocks` pre-norm blocks (attention without q/k/v biases, timm's Mlp
// with exact GELU, LayerNorm eps 1e-6), a final LayerNorm, and the current image's tokens back as a map.
// Dropout and drop-path are inactive at inference.
import type { GraphBuilder, Value } from '../../graph/builder.ts';
import { ConfigError } from '../../errors.ts';
import { attend } from '../hf-transformer.ts';
import { activation, layerNorm, linear } from '../transformer.ts';
import type { Weights } from '../weights.ts';

export interface VitPoolerConfig {
  /** the grid of patches each image gives: hi-ml fixes (14, 14), BioViL-T's 448 px through ResNet-50 */
  grid: [number, number];
  /** attention heads (hi-ml's default, 8; not in the weights) */
  heads: number;
  blocks: number;
  /** timm Mlp hidden width (mlp_ratio 1: the input width) */
  mlpHidden: number;
}

const f = Math.fround;

/**
 * hi-ml's SinePositionEmbedding(embedding_dim = dim / 2, normalize=True) on an all-ones H x W mask, [H*W, dim]
 * row-major, computed step by step in float32 as torch does: y then x halves, each [sin, cos] interleaved.
 * @example sinePositionEmbedding(2, 2, 4).length // 16
 */
export function sinePositionEmbedding(h: number, w: number, dim: number): Float32Array {
  if (dim % 4 !== 0) throw new ConfigError(`sine position embedding: width ${dim} is not a multiple of 4`);
  const D = dim / 2;
  const scale = f(2 * Math.PI);
  const dimT = Array.from({ length: D }, (_, i) => f(10000 ** f(f(2 * Math.floor(i / 2)) / D)));
  const half = (pos: number, n: number) => {
    const e = f(f(pos / f(n + 1e-6)) * scale); // cumsum / (last + 1e-6) * 2 pi
    return Array.from({ length: D }, (_, i) => (i % 2 === 0 ? Math.sin(f(e / dimT[i]!)) : Math.cos(f(e / dimT[i]!))));
  };
  const out = new Float32Array(h * w * dim);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out.set(half(y + 1, h), (y * w + x) * dim);
      out.set(half(x + 1, w), (y * w + x) * dim + D);
    }
  }
  return out;
}

/**
 * The pooler on the current and previous patch tokens, both [B, L, dim] with L = grid cells; keys under `key`
 * (`encoder.vit_pooler.`). -> the current image's pooled tokens [B, L, dim].
 */
export function vitPooler(g: GraphBuilder, w: Weights, current: Value, previous: Value, dim: number, c: VitPoolerConfig, key: string): Value {
  const [gh, gw] = c.grid;
  const L = gh * gw;
  const k = (s: string) => `${key}${s}`;
  const pos = g.weight(`${key}pos_embed`, sinePositionEmbedding(gh, gw, dim), [L, dim]); // a buffer hi-ml does not save
  const type = w.param(g, k('type_embed'), [2, 1, dim]);
  const posType = g.concat([g.add(pos, g.gather(type, g.ints([0], [], 'current'))), g.add(pos, g.gather(type, g.ints([1], [], 'previous')))], 0); // [2L, dim]
  let x = g.concat([current, previous], 1); // [B, 2L, dim]
  for (let i = 0; i < c.blocks; i++) {
    const b = (s: string) => k(`blocks.${i}.${s}`);
    const h = g.add(layerNorm(g, w, x, b('norm1'), dim, 1e-6), posType);
    const q = linear(g, w, h, b('attn.proj_q'), dim, dim, false);
    const kk = linear(g, w, h, b('attn.proj_k'), dim, dim, false);
    const v = linear(g, w, h, b('attn.proj_v'), dim, dim, false);
    x = g.add(x, linear(g, w, attend(g, q, kk, v, dim, c.heads), b('attn.proj'), dim, dim));
    const m = activation(g, linear(g, w, layerNorm(g, w, x, b('norm2'), dim, 1e-6), b('mlp.fc1'), c.mlpHidden, dim), 'gelu');
    x = g.add(x, linear(g, w, m, b('mlp.fc2'), dim, c.mlpHidden));
  }
  x = layerNorm(g, w, x, k('norm_post'), dim, 1e-6);
  return g.slice(x, g.ints([0]), g.ints([L]), g.ints([1])); // [B, L, dim]: the current image's tokens
}
