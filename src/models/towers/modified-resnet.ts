// open_clip's ModifiedResNet, the image tower of OpenAI's RN50/RN101/RN50x4... CLIP models (open_clip v2.24.0
// `modified_resnet.py`; Radford et al. 2021, section 2.4): a 3-convolution stem with an average pool,
// Bottleneck stages that downsample with an average pool before the strided path (anti-aliasing, Zhang 2019),
// and attention pooling: the mean of the final feature map, as a query, attends over the map's cells.
import { GraphBuilder, type BuiltGraph, type Value } from '../../graph/builder.ts';
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError } from '../../errors.ts';
import { linear } from '../transformer.ts';
import type { Weights } from '../weights.ts';
import { cellTokens, convBn, outSize } from './cnn.ts';

export interface ModifiedResNetConfig {
  /** blocks per stage: [3, 4, 6, 3] for RN50, [3, 4, 23, 3] for RN101 */
  layers: [number, number, number, number];
  /** stem width (64 for RN50); the final map has width * 32 channels */
  width: number;
  /** attention-pool heads: width * 32 / 64 in OpenAI's and open_clip's models */
  heads: number;
  imageSize: number;
  embedDim: number;
}

const EXPANSION = 4;

/** Bottleneck block (`modified_resnet.py` Bottleneck): all convolutions stride 1, an avgpool does the stride. */
function bottleneck(g: GraphBuilder, w: Weights, x: Value, key: string, inplanes: number, planes: number, stride: number): Value {
  const k = (s: string) => `${key}.${s}`;
  let out = convBn(g, w, x, k('conv1'), k('bn1'), { cin: inplanes, cout: planes, kernel: 1 }, true);
  out = convBn(g, w, out, k('conv2'), k('bn2'), { cin: planes, cout: planes, kernel: 3, pad: 1 }, true);
  if (stride > 1) out = g.averagePool(out, stride);
  out = convBn(g, w, out, k('conv3'), k('bn3'), { cin: planes, cout: planes * EXPANSION, kernel: 1 }, false);
  let identity = x;
  if (stride > 1 || inplanes !== planes * EXPANSION) {
    // downsample = Sequential('-1': AvgPool2d(stride), '0': Conv2d 1x1, '1': BatchNorm2d)
    const pooled = stride > 1 ? g.averagePool(x, stride) : x;
    identity = convBn(g, w, pooled, k('downsample.0'), k('downsample.1'), { cin: inplanes, cout: planes * EXPANSION, kernel: 1 }, false);
  }
  return g.relu(g.add(out, identity));
}

/**
 * Inputs: `pixel_values` [batch, 3, S, S] with S = `imageSize` (the pool's positional embedding fixes it).
 * Outputs: `image_embeds` [batch, embedDim] (`visual(x)`), `patch_tokens` [batch, cells, width*32] (the final
 * feature map's cells, row-major) and `patch_embeds` [batch, cells, embedDim]: each cell with its positional
 * embedding through the pool's value and output projections, c_proj(v_proj(cell + pos)), the attention-free
 * dense projection MaskCLIP (Zhou et al., ECCV 2022) uses for ResNet CLIP towers.
 */
export function buildModifiedResNet(cfg: ModifiedResNetConfig, w: Weights, prefix = 'visual.'): BuiltGraph {
  const g = new GraphBuilder('modified_resnet');
  const p = (k: string) => `${prefix}${k}`;
  const { width, imageSize: S } = cfg;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, S, S]);

  // stem: conv 3x3/2, conv 3x3, conv 3x3 (BatchNorm + ReLU after each), avgpool 2
  let x = convBn(g, w, pixels, p('conv1'), p('bn1'), { cin: 3, cout: width / 2, kernel: 3, stride: 2, pad: 1 }, true);
  x = convBn(g, w, x, p('conv2'), p('bn2'), { cin: width / 2, cout: width / 2, kernel: 3, pad: 1 }, true);
  x = convBn(g, w, x, p('conv3'), p('bn3'), { cin: width / 2, cout: width, kernel: 3, pad: 1 }, true);
  x = g.averagePool(x, 2);
  let side = outSize(outSize(S, 3, 2, 1), 2, 2);

  let inplanes = width;
  cfg.layers.forEach((blocks, stage) => {
    const planes = width * 2 ** stage;
    for (let b = 0; b < blocks; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      x = bottleneck(g, w, x, p(`layer${stage + 1}.${b}`), inplanes, planes, stride);
      if (stride > 1) side = outSize(side, 2, 2);
      inplanes = planes * EXPANSION;
    }
  });
  const C = width * 32;
  const cells = side * side;
  const posKey = p('attnpool.positional_embedding');
  const posShape = w.peek(posKey)?.shape;
  if (posShape && posShape[0] !== cells + 1) {
    throw new ConfigError(`${posKey} has ${posShape[0]} rows, but a ${S} px input gives a ${side}x${side} map (${cells + 1} rows expected)`);
  }

  // attention pool: tokens = [mean, cells...] + pos; the mean token's query attends over all of them
  const tokens = cellTokens(g, x, C, cells); // [B, cells, C]
  const pos = w.param(g, posKey, [cells + 1, C]);
  const seq = g.add(g.concat([g.reduceMean(tokens, [1], true), tokens], 1), pos); // [B, 1 + cells, C]
  const a = (s: string) => p(`attnpool.${s}`);
  const q = linear(g, w, g.slice(seq, g.ints([0]), g.ints([1]), g.ints([1])), a('q_proj'), C, C); // [B, 1, C]
  const k = linear(g, w, seq, a('k_proj'), C, C);
  const vProj = w.linearT(g, `${a('v_proj')}.weight`, C, C);
  const vBias = w.param(g, `${a('v_proj')}.bias`, [C]);
  const v = g.add(g.matmul(seq, vProj), vBias);
  const ctx = g.node('MultiHeadAttention', [q, k, v], { num_heads: cfg.heads }, 1, 'com.microsoft')[0]!; // [B, 1, C]
  const cWeight = w.linearT(g, `${a('c_proj')}.weight`, cfg.embedDim, C);
  const cBias = w.param(g, `${a('c_proj')}.bias`, [cfg.embedDim]);
  const embeds = g.reshape(g.add(g.matmul(ctx, cWeight), cBias), [-1, cfg.embedDim]); // [B, embed]

  // dense features: every cell (with its positional embedding) through v_proj and c_proj
  const cellsWithPos = g.slice(seq, g.ints([1]), g.ints([cells + 1]), g.ints([1])); // [B, cells, C]
  const dense = g.add(g.matmul(g.add(g.matmul(cellsWithPos, vProj), vBias), cWeight), cBias); // [B, cells, embed]

  g.output(embeds, 'image_embeds', 'float32', ['batch', cfg.embedDim]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', cells, C]);
  g.output(dense, 'patch_embeds', 'float32', ['batch', cells, cfg.embedDim]);
  return g.built();
}

/**
 * open_clip's `vision_cfg` for a ModifiedResNet (a list-valued `layers`), as `_build_vision_tower` reads it:
 * heads = width * 32 / head_width.
 * @example modifiedResNetFromOpenClip({ image_size: 224, layers: [3, 4, 6, 3], width: 64 }, 1024, 'open_clip_config.json').heads // 32
 */
export function modifiedResNetFromOpenClip(v: Record<string, unknown>, embedDim: number, file: string): ModifiedResNetConfig {
  const layers = v.layers;
  if (!Array.isArray(layers) || layers.length !== 4 || !layers.every((n) => Number.isInteger(n) && n > 0)) {
    throw new ConfigError(`vision_cfg.layers: a ModifiedResNet needs four positive block counts, got ${JSON.stringify(layers)}`, { file });
  }
  const num = (k: string, d: number) => {
    const x = v[k] ?? d;
    if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0) throw new ConfigError(`vision_cfg.${k}: expected a positive integer, got ${JSON.stringify(v[k])}`, { file });
    return x;
  };
  const width = num('width', 64);
  const headWidth = num('head_width', 64);
  if ((width * 32) % headWidth) throw new ConfigError(`vision_cfg: head_width ${headWidth} does not divide the pool width ${width * 32}`, { file });
  return { layers: layers as ModifiedResNetConfig['layers'], width, heads: (width * 32) / headWidth, imageSize: num('image_size', 224), embedDim };
}

/** The final feature map: side x side cells of width * 32 channels (7 x 7 x 2048 for RN50 at 224 px). */
export function modifiedResNetCells(cfg: ModifiedResNetConfig): { grid: number; width: number } {
  let side = outSize(outSize(cfg.imageSize, 3, 2, 1), 2, 2);
  for (let stage = 1; stage < 4; stage++) side = outSize(side, 2, 2);
  return { grid: side, width: cfg.width * 32 };
}

/**
 * The architecture of an OpenAI-format ModifiedResNet state dict from its shapes, as open_clip's
 * `build_model_from_openai_state_dict` infers it (heads = width * 32 / 64; image size = 32 x the pool grid).
 * @example inferModifiedResNetConfig(sd, 'RN50.pt') // { layers: [3, 4, 6, 3], width: 64, heads: 32, imageSize: 224, embedDim: 1024 }
 */
export function inferModifiedResNetConfig(sd: StateDict, file: string, prefix = 'visual.'): ModifiedResNetConfig {
  const shape = (k: string): number[] => {
    const t = sd.get(`${prefix}${k}`);
    if (!t) throw new ConfigError(`not a ModifiedResNet state dict: key '${prefix}${k}' is missing`, { file });
    return t.shape;
  };
  const blocks = (stage: number) => new Set([...sd.keys()].map((k) => new RegExp(`^${prefix.replace(/\./g, '\\.')}layer${stage}\\.(\\d+)\\.`).exec(k)?.[1]).filter((x) => x !== undefined)).size;
  const layers = [1, 2, 3, 4].map(blocks) as ModifiedResNetConfig['layers'];
  if (layers.some((n) => n === 0)) throw new ConfigError(`not a ModifiedResNet state dict: stage blocks ${JSON.stringify(layers)}`, { file });
  const width = shape('layer1.0.conv1.weight')[0]!;
  const rows = shape('attnpool.positional_embedding')[0]!;
  const grid = Math.round(Math.sqrt(rows - 1));
  if (grid * grid + 1 !== rows) throw new ConfigError(`${prefix}attnpool.positional_embedding has ${rows} rows, not a square grid plus one`, { file });
  return { layers, width, heads: (width * 32) / 64, imageSize: grid * 32, embedDim: shape('attnpool.c_proj.weight')[0]! };
}
