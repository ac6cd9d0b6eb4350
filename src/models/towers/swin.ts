// Swin Transformer (Liu et al., ICCV 2021) as transformers' SwinModel computes it
// (src/transformers/models/swin/modeling_swin.py): patch embedding, stages of window attention with relative
// position bias, every second block on windows shifted by half a window (cyclic roll, with a mask between the
// regions the roll brought together), patch merging between stages, final LayerNorm, mean pooling.
// MedCLIP's image tower is Swin-T (microsoft/swin-tiny-patch4-window7-224) with a bias-free projection head.
import { GraphBuilder, type BuiltGraph, type Value } from '../../graph/builder.ts';
import { ConfigError, UnsupportedError } from '../../errors.ts';
import { activation, layerNorm, linear } from '../transformer.ts';
import type { Weights } from '../weights.ts';

export interface SwinConfig {
  imageSize: number;
  patchSize: number;
  /** channels after the patch embedding (96 for Swin-T); doubled by every patch merging */
  embedDim: number;
  depths: number[];
  heads: number[];
  windowSize: number;
  mlpRatio: number;
  layerNormEps: number;
  /** key prefix of the SwinModel under the tower prefix ('model.' in MedCLIP's vision model) */
  trunk: string;
  /** a Linear on the pooled output (MedCLIP's `projection_head`, no bias); null: image_embeds = pooler_output */
  head: { key: string; embedDim: number; bias: boolean } | null;
}

/**
 * The fields of a transformers SwinConfig (`config.json`) this tower needs.
 * @example swinConfigFromHf({ image_size: 224, patch_size: 4, embed_dim: 96, depths: [2, 2, 6, 2], num_heads: [3, 6, 12, 24], window_size: 7 }, 'model.', null).heads // [3, 6, 12, 24]
 */
export function swinConfigFromHf(hf: Record<string, unknown>, trunk: string, head: SwinConfig['head'], file = 'config.json'): SwinConfig {
  const num = (k: string, d?: number) => {
    const v = hf[k] ?? d;
    if (typeof v !== 'number') throw new ConfigError(`${k}: expected a number, got ${JSON.stringify(hf[k])}`, { file });
    return v;
  };
  const list = (k: string) => {
    const v = hf[k];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new ConfigError(`${k}: expected a list of numbers, got ${JSON.stringify(v)}`, { file });
    return v as number[];
  };
  if (hf.use_absolute_embeddings) throw new UnsupportedError('use_absolute_embeddings: absolute position embeddings are not built', { file });
  if ((hf.hidden_act ?? 'gelu') !== 'gelu') throw new UnsupportedError(`hidden_act '${hf.hidden_act}'`, { file });
  if (hf.qkv_bias === false) throw new UnsupportedError('qkv_bias false', { file });
  return {
    imageSize: num('image_size', 224), patchSize: num('patch_size', 4), embedDim: num('embed_dim', 96), depths: list('depths'),
    heads: list('num_heads'), windowSize: num('window_size', 7), mlpRatio: num('mlp_ratio', 4), layerNormEps: num('layer_norm_eps', 1e-5), trunk, head,
  };
}

/** The final token grid and width (7 x 7 x 768 for Swin-T at 224 px). */
export function swinCells(cfg: SwinConfig): { grid: number; width: number } {
  const stages = cfg.depths.length - 1;
  return { grid: cfg.imageSize / cfg.patchSize / 2 ** stages, width: cfg.embedDim * 2 ** stages };
}

/** Relative position index of a ws x ws window: (dy + ws - 1) (2 ws - 1) + dx + ws - 1 for tokens i, j (d = i - j). */
function relativeIndex(ws: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < ws * ws; i++) {
    for (let j = 0; j < ws * ws; j++) {
      const dy = Math.floor(i / ws) - Math.floor(j / ws) + ws - 1;
      const dx = (i % ws) - (j % ws) + ws - 1;
      idx.push(dy * (2 * ws - 1) + dx);
    }
  }
  return idx;
}

/**
 * Additive mask [windows, N, N] of a shifted stage: after the roll, tokens that came from different regions
 * (the three bands [0, H - ws), [H - ws, H - shift), [H - shift, H) on each axis) must not attend to each other.
 */
function shiftMask(h: number, w: number, ws: number, shift: number): Float32Array {
  const band = (v: number, n: number) => (v < n - ws ? 0 : v < n - shift ? 1 : 2);
  const nH = h / ws;
  const nW = w / ws;
  const N = ws * ws;
  const m = new Float32Array(nH * nW * N * N);
  for (let wy = 0; wy < nH; wy++) {
    for (let wx = 0; wx < nW; wx++) {
      const region = Array.from({ length: N }, (_, t) => band(wy * ws + Math.floor(t / ws), h) * 3 + band(wx * ws + (t % ws), w));
      const base = (wy * nW + wx) * N * N;
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) m[base + i * N + j] = region[i] === region[j] ? 0 : -100;
    }
  }
  return m;
}

/** torch.roll(x, shift, axis) on a static axis of length n. */
function roll(g: GraphBuilder, x: Value, shift: number, axis: number, n: number): Value {
  const s = ((shift % n) + n) % n;
  if (s === 0) return x;
  const part = (a: number, b: number) => g.slice(x, g.ints([a]), g.ints([b]), g.ints([axis]));
  return g.concat([part(n - s, n), part(0, n - s)], axis);
}

interface BlockShape {
  dim: number;
  heads: number;
  h: number;
  w: number;
  ws: number;
  shift: number;
}

/** One SwinLayer on x [B, h*w, dim]. */
function block(g: GraphBuilder, w: Weights, x: Value, key: string, s: BlockShape, cfg: SwinConfig): Value {
  const k = (n: string) => `${key}.${n}`;
  const { dim, heads, h, ws, shift } = s;
  const N = ws * ws;
  const nH = h / ws;
  const nW = s.w / ws;
  const hd = dim / heads;

  let y = g.reshape(layerNorm(g, w, x, k('layernorm_before'), dim, cfg.layerNormEps), [-1, h, s.w, dim]); // [B, h, w, dim]
  if (shift > 0) y = roll(g, roll(g, y, -shift, 1, h), -shift, 2, s.w);
  // window partition: [B, nH, ws, nW, ws, dim] -> [B, nH, nW, ws, ws, dim] -> [B * windows, N, dim]
  y = g.reshape(g.transpose(g.reshape(y, [-1, nH, ws, nW, ws, dim]), [0, 1, 3, 2, 4, 5]), [-1, N, dim]);

  const a = (n: string) => k(`attention.self.${n}`);
  const heads4 = (t: Value) => g.transpose(g.reshape(t, [-1, N, heads, hd]), [0, 2, 1, 3]); // [BW, heads, N, hd]
  const q = heads4(linear(g, w, y, a('query'), dim, dim));
  const kT = g.transpose(g.reshape(linear(g, w, y, a('key'), dim, dim), [-1, N, heads, hd]), [0, 2, 3, 1]); // [BW, heads, hd, N]
  const v = heads4(linear(g, w, y, a('value'), dim, dim));
  let scores = g.div(g.matmul(q, kT), g.floats([Math.sqrt(hd)], [], 'sqrt_head_dim')); // [BW, heads, N, N]

  // relative position bias: table [(2ws-1)^2, heads] gathered to [N, N, heads] -> [heads, N, N]
  const tableLen = (2 * cfg.windowSize - 1) ** 2;
  if (ws !== cfg.windowSize) throw new ConfigError(`window ${ws} differs from the table's window ${cfg.windowSize}: resolutions below the window are not built`);
  const table = w.param(g, a('relative_position_bias_table'), [tableLen, heads]);
  checkIndexBuffer(w, a('relative_position_index'), ws);
  let bias = g.transpose(g.reshape(g.gather(table, g.ints(relativeIndex(ws), [N * N], 'relative_index')), [N, N, heads]), [2, 0, 1]); // [heads, N, N]
  if (shift > 0) bias = g.add(bias, g.floats(Array.from(shiftMask(h, s.w, ws, shift)), [nH * nW, 1, N, N], 'shift_mask')); // [windows, heads, N, N]
  else bias = g.reshape(bias, [1, heads, N, N]);
  scores = g.add(g.reshape(scores, [-1, nH * nW, heads, N, N]), bias); // per image: [B, windows, heads, N, N]
  const probs = g.reshape(g.softmax(scores, -1), [-1, heads, N, N]);
  let ctx = g.reshape(g.transpose(g.matmul(probs, v), [0, 2, 1, 3]), [-1, N, dim]); // [BW, N, dim]
  ctx = linear(g, w, ctx, k('attention.output.dense'), dim, dim);

  // window reverse: [B, nH, nW, ws, ws, dim] -> [B, nH, ws, nW, ws, dim] -> [B, h, w, dim]
  let out = g.reshape(g.transpose(g.reshape(ctx, [-1, nH, nW, ws, ws, dim]), [0, 1, 3, 2, 4, 5]), [-1, h, s.w, dim]);
  if (shift > 0) out = roll(g, roll(g, out, shift, 1, h), shift, 2, s.w);
  x = g.add(x, g.reshape(out, [-1, h * s.w, dim]));
  const mlp = Math.round(cfg.mlpRatio * dim);
  let m = linear(g, w, layerNorm(g, w, x, k('layernorm_after'), dim, cfg.layerNormEps), k('intermediate.dense'), mlp, dim);
  m = linear(g, w, activation(g, m, 'gelu'), k('output.dense'), dim, mlp);
  return g.add(x, m);
}

/** The checkpoint's relative_position_index buffer, when present, must be the index this graph uses. */
function checkIndexBuffer(w: Weights, key: string, ws: number): void {
  const t = w.peek(key);
  w.ignore(key);
  if (!t) return;
  const expected = relativeIndex(ws);
  const data = Array.from(t.data as ArrayLike<number | bigint>, Number);
  if (data.length !== expected.length || data.some((v, i) => v !== expected[i])) {
    throw new ConfigError(`${key} is not the relative position index of a ${ws}x${ws} window`);
  }
}

/** PatchMerging on x [B, h*w, dim]: the four interleaved quarters concatenated, LayerNorm, Linear 4 dim -> 2 dim. */
function patchMerging(g: GraphBuilder, w: Weights, x: Value, key: string, dim: number, h: number, wd: number): Value {
  if (h % 2 || wd % 2) throw new ConfigError(`patch merging of an odd ${h}x${wd} map (transformers pads it) is not built`);
  // [B, h, w, dim] -> [B, h/2, 2 (row parity), w/2, 2 (column parity), dim]
  const y = g.reshape(x, [-1, h / 2, 2, wd / 2, 2, dim]);
  // quarter order (row, column parity): (0,0), (1,0), (0,1), (1,1): column parity outer, row parity inner
  const q = g.reshape(g.transpose(y, [0, 1, 3, 4, 2, 5]), [-1, (h / 2) * (wd / 2), 4 * dim]); // [B, h*w/4, 4 dim]
  return linear(g, w, layerNorm(g, w, q, `${key}.norm`, 4 * dim), `${key}.reduction`, 2 * dim, 4 * dim, false);
}

/**
 * Inputs: `pixel_values` [batch, 3, S, S] with S = `imageSize`.
 * Outputs: `image_embeds` [batch, embed] (head(pooler_output)), `patch_tokens` [batch, cells, channels]
 * (last_hidden_state, after the final LayerNorm) and `patch_embeds` [batch, cells, embed] (the head on each token;
 * its mean is image_embeds).
 */
export function buildSwin(cfg: SwinConfig, w: Weights, prefix = ''): BuiltGraph {
  const g = new GraphBuilder('swin');
  const t = (k: string) => `${prefix}${cfg.trunk}${k}`;
  const S = cfg.imageSize;
  if (S % cfg.patchSize) throw new ConfigError(`image size ${S} is not a multiple of the patch size ${cfg.patchSize} (transformers pads it; not built)`);
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, S, S]);
  let h = S / cfg.patchSize;
  let dim = cfg.embedDim;
  const P = cfg.patchSize;
  const conv = g.conv(pixels, w.param(g, t('embeddings.patch_embeddings.projection.weight'), [dim, 3, P, P]), w.param(g, t('embeddings.patch_embeddings.projection.bias'), [dim]), [P, P], [P, P]);
  let x = g.transpose(g.reshape(conv, [0, dim, h * h]), [0, 2, 1]); // [B, h*h, dim]
  x = layerNorm(g, w, x, t('embeddings.norm'), dim);

  cfg.depths.forEach((depth, i) => {
    for (let j = 0; j < depth; j++) {
      // a map no larger than the window is one window, unshifted (SwinLayer.set_shift_and_window_size)
      const whole = h <= cfg.windowSize;
      const ws = whole ? h : cfg.windowSize;
      const shift = whole || j % 2 === 0 ? 0 : Math.floor(cfg.windowSize / 2);
      if (h % ws) throw new ConfigError(`stage ${i}: a ${h}x${h} map is not a whole number of ${ws}x${ws} windows (transformers pads it; not built)`);
      x = block(g, w, x, t(`encoder.layers.${i}.blocks.${j}`), { dim, heads: cfg.heads[i]!, h, w: h, ws, shift }, cfg);
    }
    if (i < cfg.depths.length - 1) {
      x = patchMerging(g, w, x, t(`encoder.layers.${i}.downsample`), dim, h, h);
      h /= 2;
      dim *= 2;
    }
  });
  const tokens = layerNorm(g, w, x, t('layernorm'), dim, cfg.layerNormEps); // last_hidden_state [B, cells, dim]
  const pooled = g.reduceMean(tokens, [1]); // pooler_output [B, dim]
  const cells = h * h;
  let embeds = pooled;
  let dense = tokens;
  let E = dim;
  if (cfg.head) {
    E = cfg.head.embedDim;
    const key = `${prefix}${cfg.head.key}`;
    const weight = w.linearT(g, `${key}.weight`, E, dim);
    const bias = cfg.head.bias ? w.param(g, `${key}.bias`, [E]) : null;
    const head = (v: Value) => (bias ? g.add(g.matmul(v, weight), bias) : g.matmul(v, weight));
    embeds = head(pooled);
    dense = head(tokens);
  }
  g.output(embeds, 'image_embeds', 'float32', ['batch', E]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', cells, dim]);
  g.output(dense, 'patch_embeds', 'float32', ['batch', cells, E]);
  return g.built();
}
