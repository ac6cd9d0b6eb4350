// The pre-norm residual transformer block shared by CLIP's image and text towers
// (OpenAI CLIP `model.py` ResidualAttentionBlock; open_clip v2.24.0 `transformer.py`):
//   x = x + ls_1(attn(ln_1(x)));  x = x + ls_2(mlp(ln_2(x)))
// with torch.nn.MultiheadAttention's packed in_proj (q, k, v stacked on the output axis).
import { UnsupportedError } from '../errors.ts';
import type { GraphBuilder, Value } from '../graph/builder.ts';
import type { Activation } from './clip-config.ts';
import { poolAt } from './towers/parts.ts';
import type { Weights } from './weights.ts';

export interface BlockSpec {
  width: number;
  heads: number;
  mlpWidth: number;
  act: Activation;
  layerScale: boolean;
  /** additive attention mask broadcastable to [batch, heads, tokens, tokens], e.g. the causal mask [T, T] */
  mask?: Value;
  /** the attention is causal (each token sees itself and those before it): no `mask` table is needed */
  causal?: boolean;
}

/** Linear layer: x @ W^T + b, with W taken transposed from the checkpoint. */
export function linear(g: GraphBuilder, w: Weights, x: Value, key: string, out: number, inp: number, bias = true): Value {
  const y = g.matmul(x, w.linearT(g, `${key}.weight`, out, inp));
  return bias ? g.add(y, w.param(g, `${key}.bias`, [out])) : y;
}

export function layerNorm(g: GraphBuilder, w: Weights, x: Value, key: string, width: number, eps = 1e-5): Value {
  return g.layerNorm(x, w.param(g, `${key}.weight`, [width]), w.param(g, `${key}.bias`, [width]), eps);
}

export function activation(g: GraphBuilder, x: Value, act: Activation): Value {
  if (act === 'quick_gelu') return g.mul(x, g.sigmoid(g.mul(x, g.floats([1.702], [], 'quick_gelu_k'))));
  // exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))); ONNX Runtime fuses this pattern into one Gelu kernel
  const e = g.erf(g.div(x, g.floats([Math.SQRT2], [], 'sqrt2')));
  return g.mul(g.mul(x, g.floats([0.5], [], 'half')), g.add(e, g.floats([1], [], 'one')));
}

/** Row block i (0: q, 1: k, 2: v) of a packed in_proj_weight [3W, W], transposed as a MatMul's weight [W, W]. */
function inProj(g: GraphBuilder, packed: Value, i: number, width: number): Value {
  return g.transpose(g.slice(packed, g.ints([i * width]), g.ints([(i + 1) * width]), g.ints([0])), [1, 0]);
}

/**
 * Multi-head self-attention on x [batch, tokens, width]. q, k and v are three MatMuls on row blocks of the
 * packed in_proj_weight (ONNX Runtime folds the constant Slice and Transpose when it loads the graph), so no
 * Split copies the [B, T, 3W] projection; in_proj_bias is added inside ONNX Runtime's fused
 * MultiHeadAttention (com.microsoft): softmax(q k^T / sqrt(hd) + mask) v per head. A causal mask is the
 * kernel's own `unidirectional` mode rather than a [T, T] table added to every score matrix.
 */
export function selfAttention(g: GraphBuilder, w: Weights, x: Value, key: string, s: BlockSpec): Value {
  const { width, heads } = s;
  const packed = w.param(g, `${key}.in_proj_weight`, [3 * width, width]); // rows: q, k, v (torch [out, in])
  const [q, k, v] = [0, 1, 2].map((i) => g.matmul(x, inProj(g, packed, i, width))); // [B, T, W]
  const bias = s.mask ? g.op('Unsqueeze', [s.mask, g.ints([0, 1])]) : null; // [1, 1, T, T]
  const attrs: Record<string, number> = s.causal ? { num_heads: heads, unidirectional: 1 } : { num_heads: heads };
  const ctx = g.node('MultiHeadAttention', [q, k, v, w.param(g, `${key}.in_proj_bias`, [3 * width]), null, bias], attrs, 1, 'com.microsoft')[0]!; // [B, T, W]
  return linear(g, w, ctx, `${key}.out_proj`, width, width);
}

/**
 * The block's output at one position per row only: x [B, T, width] and `index` [B] (int64) -> [B, width], equal
 * to gathering row b at index[b] from `residualBlock`'s output. Keys and values are still projected from every
 * token, but the query, the attention's output projection, the residual adds and the MLP run on B rows instead
 * of B * T (the text towers' last block, whose output is only read at the end token). With a causal mask the
 * query at index[b] sees keys 0..index[b]: an attention bias [B, heads, 1, T] of -inf past it, made from
 * `positions` (int64 [T], 0..T-1). The bias is full-sized because WebGPU's MultiHeadAttention broadcasts none
 * and takes no key padding mask.
 */
export function residualBlockAt(g: GraphBuilder, w: Weights, x: Value, key: string, s: BlockSpec, index: Value, positions?: Value): Value {
  if (s.mask) throw new UnsupportedError(`${key}: a block read at one position takes a causal flag, not an attention mask table`);
  if (s.causal && !positions) throw new UnsupportedError(`${key}: a causal block read at one position needs the token positions`);
  const { width, heads } = s;
  const h = layerNorm(g, w, x, `${key}.ln_1`, width); // [B, T, width]
  const packed = w.param(g, `${key}.attn.in_proj_weight`, [3 * width, width]);
  const rowOfH = g.reshape(poolAt(g, h, index, width), [-1, 1, width]); // [B, 1, width]: h[b, index[b]]
  const [q, k, v] = [rowOfH, h, h].map((t, i) => g.matmul(t, inProj(g, packed, i, width))); // q [B, 1, W]; k, v [B, T, W]
  let bias: Value | null = null;
  if (s.causal) {
    const after = g.op('Greater', [g.reshape(positions!, [1, -1]), g.reshape(index, [-1, 1])]); // [B, T]: key j > index[b]
    const b = g.op('Where', [after, g.floats([-Infinity], [], 'neg_inf'), g.floats([0], [], 'zero')]); // [B, T]
    bias = g.expand(g.reshape(b, [0, 1, 1, -1]), g.ints([1, heads, 1, 1])); // [B, heads, 1, T]
  }
  const ctx = g.node('MultiHeadAttention', [q, k, v, w.param(g, `${key}.attn.in_proj_bias`, [3 * width]), null, bias], { num_heads: heads }, 1, 'com.microsoft')[0]!; // [B, 1, W]
  let a = linear(g, w, g.reshape(ctx, [-1, width]), `${key}.attn.out_proj`, width, width); // [B, W]
  if (s.layerScale) a = g.mul(a, w.param(g, `${key}.ls_1.gamma`, [width]));
  return mlpResidual(g, w, g.add(poolAt(g, x, index, width), a), key, s); // [B, W]
}

/** The block's second half on x [..., width]: x + ls_2(mlp(ln_2(x))). */
function mlpResidual(g: GraphBuilder, w: Weights, x: Value, key: string, s: BlockSpec): Value {
  let m = linear(g, w, layerNorm(g, w, x, `${key}.ln_2`, s.width), `${key}.mlp.c_fc`, s.mlpWidth, s.width);
  m = linear(g, w, activation(g, m, s.act), `${key}.mlp.c_proj`, s.width, s.mlpWidth);
  if (s.layerScale) m = g.mul(m, w.param(g, `${key}.ls_2.gamma`, [s.width]));
  return g.add(x, m);
}

export function residualBlock(g: GraphBuilder, w: Weights, x: Value, key: string, s: BlockSpec): Value {
  let a = selfAttention(g, w, layerNorm(g, w, x, `${key}.ln_1`, s.width), `${key}.attn`, s);
  if (s.layerScale) a = g.mul(a, w.param(g, `${key}.ls_1.gamma`, [s.width]));
  return mlpResidual(g, w, g.add(x, a), key, s);
}
