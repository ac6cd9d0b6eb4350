// The pieces every CLIP-style tower shares, written once: the patch embedding (a strided Conv2d), the class
// token, the causal attention mask of the text transformers and pooling at one position per row (the end
// token of CLIP's text towers). The ViT reading follows Dosovitskiy et al. 2021; the text pooling follows
// OpenAI CLIP `model.py` `encode_text` (x[arange(B), text.argmax(-1)]).
import type { GraphBuilder, Value } from '../../graph/builder.ts';

/**
 * Non-overlapping patches of `pixels` [B, 3, S, S] through a Conv2d with kernel = stride = `patch`
 * (weight [width, 3, patch, patch], optional bias [width]), flattened to tokens [B, grid*grid, width].
 */
export function patchEmbed(g: GraphBuilder, pixels: Value, weight: Value, bias: Value | null, width: number, patch: number, tokens: number): Value {
  const conv = g.conv(pixels, weight, bias, [patch, patch], [patch, patch]); // [B, width, grid, grid]
  return g.transpose(g.reshape(conv, [0, width, tokens]) /* [B, width, P] */, [0, 2, 1]); // [B, P, width]
}

/** `[cls; tokens]`: the class embedding (any shape holding `width` values) broadcast over the batch of `like`. */
export function prependClassToken(g: GraphBuilder, like: Value, tokens: Value, cls: Value, width: number): Value {
  const c = g.reshape(cls, [1, 1, width]); // [1, 1, width]
  const shape = g.concat([g.shape(like, 0, 1), g.ints([1, width])], 0); // [B, 1, width]
  return g.concat([g.expand(c, shape), tokens], 1); // [B, 1 + P, width]
}

/**
 * The additive causal mask cut to the batch's length: 0 on and below the diagonal, -inf above, [T, T].
 * `seqLen` is the [1] shape of the token axis; the full [context, context] table is one constant named `name`.
 */
export function causalMask(g: GraphBuilder, context: number, seqLen: Value, name: string): Value {
  const m = new Float32Array(context * context);
  for (let i = 0; i < context; i++) for (let j = i + 1; j < context; j++) m[i * context + j] = -Infinity;
  return g.slice(g.weight(name, m, [context, context]), g.ints([0, 0]), g.concat([seqLen, seqLen], 0), g.ints([0, 1]));
}

/**
 * Where each row's end token is: `argmax` of the ids (CLIP's end token has the highest id), or the first
 * position holding `eosId`. ONNX ArgMax returns the first maximal index, as torch.argmax does. -> [B]
 */
export function endTokenIndex(g: GraphBuilder, ids: Value, rule: { kind: 'argmax' } | { kind: 'first-eos'; eosId: number }): Value {
  const key = rule.kind === 'argmax' ? g.cast(ids, 'float32') : g.cast(g.op('Equal', [ids, g.ints([rule.eosId], [], 'eos_id')]), 'float32');
  return g.op('ArgMax', [key], { axis: -1, keepdims: 0 });
}

/** Row b of the result is x[b, index[b]]: x [B, T, width], index [B] -> [B, width]. */
export function poolAt(g: GraphBuilder, x: Value, index: Value, width: number): Value {
  const i = g.expand(g.reshape(index, [-1, 1, 1]), g.ints([1, 1, width])); // [B, 1, width]
  return g.reshape(g.op('GatherElements', [x, i], { axis: 1 }), [-1, width]); // [B, width]
}

/** The token at a fixed position (0: the class token, -1: the last) of x [B, T, width] -> [B, width]. */
export function tokenAt(g: GraphBuilder, x: Value, position: number, hint = 'pool_index'): Value {
  return g.gather(x, g.ints([position], [], hint), 1);
}

/** Tokens 1..P of x [B, 1 + P, width] (everything after the class token) -> [B, P, width]. */
export function afterClassToken(g: GraphBuilder, x: Value, patches: number): Value {
  return g.slice(x, g.ints([1]), g.ints([patches + 1]), g.ints([1]));
}
