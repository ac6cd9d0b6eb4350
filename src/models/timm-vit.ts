// timm's VisionTransformer as open_clip's TimmModel wraps it (timm v0.9.16 `vision_transformer.py`; open_clip
// v2.24.0 `timm_model.py`), the BiomedCLIP / QuiltNet-B-16-PMB image tower:
//   patch_embed.proj (Conv2d with bias) -> [cls_token; patches] + pos_embed -> blocks (pre-norm, qkv with bias,
//   exact GELU, LayerNorm eps 1e-6) -> norm -> class token ('token' global pool, fc_norm Identity) -> head.proj.
// With timm_pool '' open_clip keeps the ViT's default global_pool ('token'); timm_proj 'linear' adds head.proj.
import type { StateDict } from '../checkpoint/types.ts';
import { CheckpointError, UnsupportedError } from '../errors.ts';
import { GraphBuilder, type Value } from '../graph/builder.ts';
import type { BuiltGraph } from './clip-towers.ts';
import { attend } from './hf-transformer.ts';
import { afterClassToken, patchEmbed, prependClassToken, tokenAt } from './towers/parts.ts';
import { activation, layerNorm, linear } from './transformer.ts';
import type { Weights } from './weights.ts';

export interface TimmVitConfig {
  /** the timm model name from the config */
  name: string;
  width: number;
  layers: number;
  heads: number;
  mlpWidth: number;
  patchSize: number;
  imageSize: number;
  eps: number;
  /** open_clip's head.proj has a bias (timm_proj_bias) */
  projBias: boolean;
}

/** The plain timm ViTs (class token, 'token' pool, no layer scale): width, depth, heads by size name. */
const TIMM_VIT_SIZES: Record<string, { width: number; layers: number; heads: number }> = {
  tiny: { width: 192, layers: 12, heads: 3 },
  small: { width: 384, layers: 12, heads: 6 },
  base: { width: 768, layers: 12, heads: 12 },
  large: { width: 1024, layers: 24, heads: 16 },
};
// vit_{size}_patch{P}_{S}, optionally with a pretrained tag after '.'; variants with other suffixes (clip, gap,
// dinov2, reg, siglip) change norms or pooling and are not these graphs
const TIMM_VIT_NAME = /^vit_(tiny|small|base|large)_patch(\d+)_(\d+)(\.[\w-]+)?$/;

/**
 * The architecture a timm model name stands for, or undefined when it is not a plain timm ViT.
 * @example timmVitArch('vit_base_patch16_224') // { width: 768, layers: 12, heads: 12, patchSize: 16, imageSize: 224 }
 */
export function timmVitArch(name: string): { width: number; layers: number; heads: number; patchSize: number; imageSize: number } | undefined {
  const m = TIMM_VIT_NAME.exec(name);
  if (!m) return undefined;
  return { ...TIMM_VIT_SIZES[m[1]!]!, patchSize: Number(m[2]), imageSize: Number(m[3]) };
}

/**
 * How many numbered children `{prefix}N.` the state dict has.
 * @example countLayers(sd, 'visual.trunk.blocks.') // 12 for ViT-B/16
 */
export function countLayers(sd: StateDict, prefix: string): number {
  let n = 0;
  for (const k of sd.keys()) {
    if (!k.startsWith(prefix)) continue;
    const i = Number(k.slice(prefix.length).split('.')[0]);
    if (Number.isInteger(i)) n = Math.max(n, i + 1);
  }
  return n;
}

/** Explicit open_clip CLIPVisionCfg fields that restate (or resize) the named architecture. */
export interface TimmVitOverrides {
  width?: number;
  layers?: number;
  headWidth?: number;
  patchSize?: number;
  imageSize?: number;
  projBias?: boolean;
}

/**
 * The tower's dimensions: sizes from the weights under `prefix` (`visual.trunk.`), heads from the timm name
 * (weights cannot tell them) unless `head_width` is given; any stated size must agree with the weights.
 * @example resolveTimmVit('vit_base_patch16_224', sd, {}, file).heads // 12
 */
export function resolveTimmVit(name: string, sd: StateDict, o: TimmVitOverrides, file: string, prefix = 'visual.trunk.'): TimmVitConfig {
  const arch = timmVitArch(name);
  if (!arch) throw new UnsupportedError(`timm model '${name}': supported are the plain ViTs vit_{tiny,small,base,large}_patch{P}_{size}`, { file });
  const shape = (k: string) => {
    const t = sd.get(prefix + k);
    if (!t) throw new CheckpointError(`missing key '${prefix}${k}' of the timm ViT '${name}'`, { file });
    return t.shape;
  };
  const width = shape('cls_token')[2]!;
  const patchSize = shape('patch_embed.proj.weight')[2]!;
  const grid = Math.round(Math.sqrt(shape('pos_embed')[1]! - 1));
  const got = { width, layers: countLayers(sd, `${prefix}blocks.`), patchSize, imageSize: grid * patchSize };
  const stated = { width: o.width ?? arch.width, layers: o.layers ?? arch.layers, patchSize: o.patchSize ?? arch.patchSize, imageSize: o.imageSize ?? arch.imageSize };
  const wrong = (Object.keys(got) as Array<keyof typeof got>).filter((k) => got[k] !== stated[k]).map((k) => `${k} ${got[k]} (config / '${name}': ${stated[k]})`);
  if (wrong.length) throw new CheckpointError(`the vision weights do not match the configured timm ViT: ${wrong.join(', ')}`, { file });
  const heads = o.headWidth ? width / o.headWidth : arch.heads;
  if (!Number.isInteger(heads) || width % heads !== 0) throw new CheckpointError(`vision width ${width} does not split into ${heads} heads`, { file });
  return { name, ...got, heads, mlpWidth: shape('blocks.0.mlp.fc1.weight')[0]!, eps: 1e-6, projBias: o.projBias ?? false };
}

/** One timm `Block`: x + attn(norm1(x)); x + mlp(norm2(x)); qkv packed as [3, heads, head_dim] on the output axis. */
export function block(g: GraphBuilder, w: Weights, x: Value, key: string, c: TimmVitConfig): Value {
  const W = c.width;
  const h = layerNorm(g, w, x, `${key}.norm1`, W, c.eps);
  const qkv = linear(g, w, h, `${key}.attn.qkv`, 3 * W, W); // [B, T, 3W]
  const part = (i: number) => g.slice(qkv, g.ints([i * W]), g.ints([(i + 1) * W]), g.ints([2]));
  x = g.add(x, linear(g, w, attend(g, part(0), part(1), part(2), W, c.heads), `${key}.attn.proj`, W, W));
  const m = linear(g, w, layerNorm(g, w, x, `${key}.norm2`, W, c.eps), `${key}.mlp.fc1`, c.mlpWidth, W);
  return g.add(x, linear(g, w, activation(g, m, 'gelu'), `${key}.mlp.fc2`, W, c.mlpWidth));
}

/**
 * Inputs: `pixel_values` float32 [batch, 3, S, S].
 * Outputs: `image_embeds` [batch, E] (open_clip encode_image), `patch_tokens` [batch, grid*grid, width] (after
 * the trunk's final `norm`), `patch_embeds` [batch, grid*grid, E] (those tokens through head.proj).
 */
export function buildTimmVitGraph(c: TimmVitConfig, embedDim: number, w: Weights, prefix = 'visual.'): BuiltGraph {
  return buildTimmVit({ ...c, embedDim }, w, prefix);
}

/** The config of the `timm-vit` tower: the resolved timm ViT and the joint embedding width of its head. */
export type TimmVitTowerConfig = TimmVitConfig & { embedDim: number };

/** The `timm-vit` tower: keys `{prefix}trunk.*` (the timm model) and `{prefix}head.proj.*` (open_clip's projection). */
export function buildTimmVit(c: TimmVitTowerConfig, w: Weights, prefix = 'visual.'): BuiltGraph {
  const g = new GraphBuilder('timm_vit');
  const W = c.width;
  const E = c.embedDim;
  const grid = c.imageSize / c.patchSize;
  const P = grid * grid;
  const t = (k: string) => `${prefix}trunk.${k}`;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, c.imageSize, c.imageSize]);
  const patches = patchEmbed(g, pixels, w.param(g, t('patch_embed.proj.weight'), [W, 3, c.patchSize, c.patchSize]), w.param(g, t('patch_embed.proj.bias'), [W]), W, c.patchSize, P);
  let x = prependClassToken(g, pixels, patches, w.param(g, t('cls_token'), [1, 1, W]), W); // [B, 1 + P, W]
  x = g.add(x, w.param(g, t('pos_embed'), [1, P + 1, W]));
  for (let i = 0; i < c.layers; i++) x = block(g, w, x, t(`blocks.${i}`), c);
  x = layerNorm(g, w, x, t('norm'), W, c.eps);
  const pooled = tokenAt(g, x, 0, 'cls_index'); // [B, W]
  const tokens = afterClassToken(g, x, P); // [B, P, W]
  const proj = w.linearT(g, `${prefix}head.proj.weight`, E, W);
  const bias = c.projBias ? w.param(g, `${prefix}head.proj.bias`, [E]) : undefined;
  const project = (v: Value) => (bias ? g.add(g.matmul(v, proj), bias) : g.matmul(v, proj));
  g.output(project(pooled), 'image_embeds', 'float32', ['batch', E]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', P, W]);
  g.output(project(tokens), 'patch_embeds', 'float32', ['batch', P, E]);
  return g.built();
}
