// The pre-norm encoder layer of Hugging Face transformers' CLIP and SigLIP models (`CLIPEncoderLayer`,
// `SiglipEncoderLayer` in transformers' modeling_clip.py / modeling_siglip.py):
//   x = x + out_proj(attn(q_proj, k_proj, v_proj of layer_norm1(x)));  x = x + fc2(act(fc1(layer_norm2(x))))
// Unlike nn.MultiheadAttention, q, k and v are three separate Linear layers with biases.
import { UnsupportedError } from '../errors.ts';
import type { GraphBuilder, Value } from '../graph/builder.ts';
import { activation, layerNorm, linear } from './transformer.ts';
import { poolAt } from './towers/parts.ts';
import type { Weights } from './weights.ts';

/** transformers' `hidden_act` names this implementation builds. */
export type HfActivation = 'quick_gelu' | 'gelu' | 'gelu_pytorch_tanh';

export function parseHfActivation(v: unknown, file: string): HfActivation {
  if (v === 'quick_gelu' || v === 'gelu' || v === 'gelu_pytorch_tanh') return v;
  // transformers' `gelu_new` and `gelu_fast` are the same tanh approximation as gelu_pytorch_tanh, up to rounding
  throw new UnsupportedError(`hidden_act '${String(v)}': supported are quick_gelu, gelu, gelu_pytorch_tanh`, { file });
}

export interface HfLayerSpec {
  width: number;
  heads: number;
  mlpWidth: number;
  act: HfActivation;
  eps: number;
  /** additive attention mask broadcastable to [batch, heads, tokens, tokens] (the causal mask [T, T]) */
  mask?: Value;
}

/** transformers' activations: `gelu_pytorch_tanh` is 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function hfActivation(g: GraphBuilder, x: Value, act: HfActivation): Value {
  if (act !== 'gelu_pytorch_tanh') return activation(g, x, act);
  const x3 = g.mul(g.mul(x, x), x);
  const inner = g.mul(g.add(x, g.mul(x3, g.floats([0.044715], [], 'gelu_c'))), g.floats([Math.sqrt(2 / Math.PI)], [], 'gelu_k'));
  return g.mul(g.mul(x, g.floats([0.5], [], 'half')), g.add(g.tanh(inner), g.floats([1], [], 'one')));
}

/** [B, T, W] -> [B, H, T, hd] */
function heads(g: GraphBuilder, x: Value, h: number, hd: number): Value {
  return g.transpose(g.reshape(x, [0, 0, h, hd]), [0, 2, 1, 3]);
}

/**
 * Scaled dot-product attention of queries q [B, Tq, W] over keys k and values v [B, Tk, W] (already projected),
 * merged back to [B, Tq, W] (before the output projection).
 */
export function attend(g: GraphBuilder, q: Value, k: Value, v: Value, width: number, nHeads: number, mask?: Value): Value {
  const hd = width / nHeads;
  const qs = g.mul(heads(g, q, nHeads, hd), g.floats([1 / Math.sqrt(hd)], [], 'attn_scale')); // [B, H, Tq, hd]
  let scores = g.matmul(qs, g.transpose(heads(g, k, nHeads, hd), [0, 1, 3, 2])); // [B, H, Tq, Tk]
  if (mask) scores = g.add(scores, mask);
  const ctx = g.matmul(g.softmax(scores, -1), heads(g, v, nHeads, hd)); // [B, H, Tq, hd]
  return g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [0, 0, width]); // [B, Tq, W]
}

/** `self_attn` with separate q_proj, k_proj, v_proj and out_proj (all with biases). */
export function hfSelfAttention(g: GraphBuilder, w: Weights, x: Value, key: string, s: HfLayerSpec): Value {
  const q = linear(g, w, x, `${key}.q_proj`, s.width, s.width);
  const k = linear(g, w, x, `${key}.k_proj`, s.width, s.width);
  const v = linear(g, w, x, `${key}.v_proj`, s.width, s.width);
  return linear(g, w, attend(g, q, k, v, s.width, s.heads, s.mask), `${key}.out_proj`, s.width, s.width);
}

/** `mlp`: fc1, activation, fc2. */
export function hfMlp(g: GraphBuilder, w: Weights, x: Value, key: string, s: Pick<HfLayerSpec, 'width' | 'mlpWidth' | 'act'>): Value {
  const h = linear(g, w, x, `${key}.fc1`, s.mlpWidth, s.width);
  return linear(g, w, hfActivation(g, h, s.act), `${key}.fc2`, s.width, s.mlpWidth);
}

/**
 * One encoder layer's output at one position per row only: x [B, T, W] and `index` [B] (int64) -> [B, W], equal to
 * gathering row b at index[b] from `hfEncoderLayer`'s output. k and v come from every token; q, out_proj and the
 * MLP run on B rows (a text tower's last layer, read only at the end token). The mask [T, T] gives each row's
 * query its own mask row, [B, 1, 1, T].
 */
export function hfEncoderLayerAt(g: GraphBuilder, w: Weights, x: Value, key: string, s: HfLayerSpec, index: Value): Value {
  const h = layerNorm(g, w, x, `${key}.layer_norm1`, s.width, s.eps); // [B, T, W]
  const a = `${key}.self_attn`;
  const q = linear(g, w, g.reshape(poolAt(g, h, index, s.width), [-1, 1, s.width]), `${a}.q_proj`, s.width, s.width); // [B, 1, W]: h[b, index[b]]
  const k = linear(g, w, h, `${a}.k_proj`, s.width, s.width);
  const v = linear(g, w, h, `${a}.v_proj`, s.width, s.width);
  const mask = s.mask ? g.reshape(g.gather(s.mask, index, 0), [0, 1, 1, -1]) : undefined; // [B, 1, 1, T]
  const y = g.add(poolAt(g, x, index, s.width), g.reshape(linear(g, w, attend(g, q, k, v, s.width, s.heads, mask), `${a}.out_proj`, s.width, s.width), [-1, s.width])); // [B, W]
  return g.add(y, hfMlp(g, w, layerNorm(g, w, y, `${key}.layer_norm2`, s.width, s.eps), `${key}.mlp`, s));
}

/** One encoder layer `{key}` = e.g. `vision_model.encoder.layers.3`. */
export function hfEncoderLayer(g: GraphBuilder, w: Weights, x: Value, key: string, s: HfLayerSpec): Value {
  x = g.add(x, hfSelfAttention(g, w, layerNorm(g, w, x, `${key}.layer_norm1`, s.width, s.eps), `${key}.self_attn`, s));
  return g.add(x, hfMlp(g, w, layerNorm(g, w, x, `${key}.layer_norm2`, s.width, s.eps), `${key}.mlp`, s));
}
