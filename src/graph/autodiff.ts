// Reverse-mode differentiation of ONNX graphs (as micrograd's `backward`, one rule per op): walks the nodes
// from the loss back to the parameters and appends, for each node, the ops of its vector-Jacobian product.
// The result is one ONNX graph, forward and backward together, that ONNX Runtime runs like any other:
// parameters are graph inputs and every parameter's gradient is an output named `grad:<parameter>`.
// Activations are kept (the forward values feed the backward ops directly), which suits the small models
// trained on CPU here. Fused ops with no rule of their own (com.microsoft MultiHeadAttention, the patch
// embedding Conv) are first lowered to the primitive ops they stand for.
import { ShapeError, UnsupportedError } from '../errors.ts';
import { IrEmitter } from './ir-emitter.ts';
import type { IrGraph, IrNode, ValueInfo } from './ir.ts';
import { sliceParams } from './ir-shapes.ts';

/** Ops whose outputs carry no gradient (integer-valued results). */
const NON_DIFF = new Set(['Shape', 'ArgMax', 'Equal', 'Less', 'Greater', 'Sign']);

type Rule = (em: IrEmitter, n: IrNode, dy: Array<string | null>, needs: boolean[]) => Array<string | null>;

const a = (n: IrNode, k: string, d: number) => (n.attrs[k] ? (n.attrs[k].value as number) : d);

/** The gradient rules, one per op: from the output gradients `dy`, the gradients of the inputs marked in `needs`. */
export const RULES: Record<string, Rule> = {
  Identity: (_em, _n, [d]) => [d!],
  Cast: (em, n, [d]) => [em.get(n.inputs[0]!).dtype === 'float' ? d! : null],
  Neg: (em, _n, [d]) => [em.neg(d!)],
  Add: (em, n, [d], needs) => [needs[0] ? em.unbroadcast(d!, em.dims(n.inputs[0]!)) : null, needs[1] ? em.unbroadcast(d!, em.dims(n.inputs[1]!)) : null],
  Sub: (em, n, [d], needs) => [needs[0] ? em.unbroadcast(d!, em.dims(n.inputs[0]!)) : null, needs[1] ? em.unbroadcast(em.neg(d!), em.dims(n.inputs[1]!)) : null],
  Mul: (em, n, [d], needs) => {
    const [x, y] = n.inputs as [string, string];
    return [needs[0] ? em.unbroadcast(em.mul(d!, y), em.dims(x)) : null, needs[1] ? em.unbroadcast(em.mul(d!, x), em.dims(y)) : null];
  },
  Div: (em, n, [d], needs) => {
    const [x, y] = n.inputs as [string, string];
    const dx = em.div(d!, y); // d/dx (x / y) = 1 / y
    // d/dy (x / y) = -x / y^2 = -(dy / y) * out
    return [needs[0] ? em.unbroadcast(dx, em.dims(x)) : null, needs[1] ? em.unbroadcast(em.neg(em.mul(dx, n.outputs[0]!)), em.dims(y)) : null];
  },
  MatMul: (em, n, [d], needs) => {
    const [x, y] = n.inputs as [string, string];
    const xd = em.dims(x);
    const yd = em.dims(y);
    let gx: string | null = null;
    let gy: string | null = null;
    if (needs[0]) gx = em.unbroadcast(em.matmul(d!, em.transposeLast(y)), xd);
    if (needs[1]) {
      if (yd.length === 2 && xd.length > 2) {
        // [..., M, K] @ [K, N]: fold the batch into the rows, one [K, M*] @ [M*, N] product
        const x2 = em.reshape(x, [-1, xd[xd.length - 1]!]);
        const d2 = em.reshape(d!, [-1, yd[1]!]);
        gy = em.matmul(em.transpose(x2, [1, 0]), d2);
      } else gy = em.unbroadcast(em.matmul(em.transposeLast(x), d!), yd);
    }
    return [gx, gy];
  },
  Gemm: (em, n, [d], needs) => {
    if (a(n, 'transA', 0) || a(n, 'transB', 0) || (n.attrs.alpha && n.attrs.alpha.value !== 1) || (n.attrs.beta && n.attrs.beta.value !== 1)) throw new UnsupportedError('Gemm gradient: only alpha = beta = 1 without transposes');
    const [x, y, c] = n.inputs as [string, string, string | undefined];
    return [
      needs[0] ? em.matmul(d!, em.transpose(y, [1, 0])) : null,
      needs[1] ? em.matmul(em.transpose(x, [1, 0]), d!) : null,
      c && needs[2] ? em.unbroadcast(d!, em.dims(c)) : null,
    ];
  },
  Exp: (em, n, [d]) => [em.mul(d!, n.outputs[0]!)],
  Log: (em, n, [d]) => [em.div(d!, n.inputs[0]!)],
  Sqrt: (em, n, [d]) => [em.div(em.mul(d!, em.scalar(0.5)), n.outputs[0]!)],
  Abs: (em, n, [d]) => [em.mul(d!, em.op('Sign', [n.inputs[0]!]))],
  Sigmoid: (em, n, [d]) => {
    const y = n.outputs[0]!;
    return [em.mul(d!, em.mul(y, em.sub(em.scalar(1), y)))];
  },
  Tanh: (em, n, [d]) => {
    const y = n.outputs[0]!;
    return [em.mul(d!, em.sub(em.scalar(1), em.mul(y, y)))];
  },
  Erf: (em, n, [d]) => {
    const x = n.inputs[0]!;
    // d/dx erf(x) = 2 / sqrt(pi) * exp(-x^2)
    return [em.mul(d!, em.mul(em.scalar(2 / Math.sqrt(Math.PI)), em.op('Exp', [em.neg(em.mul(x, x))])))];
  },
  Min: (em, n, [d], needs) => minMax(em, n, d!, needs, 'LessOrEqual'),
  Max: (em, n, [d], needs) => minMax(em, n, d!, needs, 'GreaterOrEqual'),
  Softmax: (em, n, [d]) => {
    const axis = a(n, 'axis', -1);
    const y = n.outputs[0]!;
    const dy = em.mul(d!, y);
    return [em.sub(dy, em.mul(y, em.reduceSum(dy, [axis], 1)))];
  },
  LogSoftmax: (em, n, [d]) => {
    const axis = a(n, 'axis', -1);
    const p = em.op('Exp', [n.outputs[0]!]);
    return [em.sub(d!, em.mul(p, em.reduceSum(d!, [axis], 1)))];
  },
  LayerNormalization: (em, n, [d], needs) => {
    if (a(n, 'axis', -1) !== -1 && a(n, 'axis', -1) !== em.dims(n.inputs[0]!).length - 1) throw new UnsupportedError('LayerNormalization gradient: only the last axis');
    const [x, scale, bias] = n.inputs as [string, string, string | undefined];
    const eps = n.attrs.epsilon ? (n.attrs.epsilon.value as number) : 1e-5;
    // recomputed statistics: xhat = (x - mean) / sqrt(var + eps)
    const xc = em.sub(x, em.reduceMean(x, [-1]));
    const rstd = em.div(em.scalar(1), em.op('Sqrt', [em.add(em.reduceMean(em.mul(xc, xc), [-1]), em.scalar(eps))]));
    const xhat = em.mul(xc, rstd);
    const out: Array<string | null> = [null, null, null];
    if (needs[0]) {
      // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * scale
      const g = em.mul(d!, scale);
      const inner = em.sub(em.sub(g, em.reduceMean(g, [-1])), em.mul(xhat, em.reduceMean(em.mul(g, xhat), [-1])));
      out[0] = em.mul(rstd, inner);
    }
    if (needs[1]) out[1] = em.unbroadcast(em.mul(d!, xhat), em.dims(scale));
    if (bias && needs[2]) out[2] = em.unbroadcast(d!, em.dims(bias));
    return out;
  },
  Reshape: (em, n, [d]) => [em.reshape(d!, em.dims(n.inputs[0]!))],
  Unsqueeze: (em, n, [d]) => [em.reshape(d!, em.dims(n.inputs[0]!))],
  Squeeze: (em, n, [d]) => [em.reshape(d!, em.dims(n.inputs[0]!))],
  Transpose: (em, n, [d]) => {
    const r = em.dims(n.inputs[0]!).length;
    const perm = n.attrs.perm ? (n.attrs.perm.value as number[]) : [...Array(r).keys()].reverse();
    const inv = new Array<number>(r);
    perm.forEach((p, i) => (inv[p] = i));
    return [em.transpose(d!, inv)];
  },
  Expand: (em, n, [d]) => [em.unbroadcast(d!, em.dims(n.inputs[0]!))],
  Concat: (em, n, [d], needs) => {
    const r = em.dims(n.outputs[0]!).length;
    const axis = (a(n, 'axis', 0) + r) % r;
    const sizes = n.inputs.map((x) => em.dims(x)[axis]!);
    const parts = em.node('Split', [d!, em.ints(sizes)], { axis }, { nOut: sizes.length });
    return parts.map((p, i) => (needs[i] ? p : null));
  },
  Split: (em, n, dys) => {
    const axis = a(n, 'axis', 0);
    const parts = n.outputs.map((o, i) => dys[i] ?? em.zeros(em.dims(o)));
    return [em.op('Concat', parts, { axis }), null];
  },
  Slice: (em, n, [d]) => {
    const x = n.inputs[0]!;
    const dims = em.dims(x);
    const { starts, ends, axes } = sliceParams(n, n.inputs.map((i) => (i ? em.get(i) : undefined)), dims, `Slice '${n.outputs[0]}'`);
    const pads = new Array<number>(2 * dims.length).fill(0);
    axes.forEach((ax, k) => {
      pads[ax] = starts[k]!;
      pads[ax + dims.length] = dims[ax]! - ends[k]!;
    });
    return [em.op('Pad', [d!, em.ints(pads)])];
  },
  Gather: (em, n, [d]) => {
    const [x, idx] = n.inputs as [string, string];
    const xd = em.dims(x);
    const axis = (a(n, 'axis', 0) + xd.length) % xd.length;
    const id = em.dims(idx);
    // bring the gathered axis to the front: dy [pre, idx..., post] -> [idx..., pre, post]
    const k = id.reduce((p, q) => p * q, 1);
    const pre = xd.slice(0, axis);
    const post = xd.slice(axis + 1);
    let g = em.reshape(d!, [...pre, k, ...post]);
    const perm = [axis, ...pre.map((_, i) => i), ...post.map((_, i) => axis + 1 + i)];
    if (axis !== 0) g = em.transpose(g, perm);
    const xt = [xd[axis]!, ...pre, ...post];
    // negative indices count from the end, as Gather allows
    let ind = em.reshape(idx, [k, 1]);
    ind = em.op('Where', [em.op('Less', [ind, em.ints([0], [])]), em.add(ind, em.ints([xd[axis]!], [])), ind]);
    const scattered = em.op('ScatterND', [em.zeros(xt), ind, g], { reduction: 'add' });
    if (axis === 0) return [scattered, null];
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [em.transpose(scattered, inv), null];
  },
  GatherElements: (em, n, [d]) => {
    const [x, idx] = n.inputs as [string, string];
    return [em.op('ScatterElements', [em.zeros(em.dims(x)), idx, d!], { axis: a(n, 'axis', 0), reduction: 'add' }), null];
  },
  ReduceMean: (em, n, [d]) => reduceRule(em, n, d!, true),
  ReduceSum: (em, n, [d]) => reduceRule(em, n, d!, false),
};

function minMax(em: IrEmitter, n: IrNode, d: string, needs: boolean[], cmp: 'LessOrEqual' | 'GreaterOrEqual'): Array<string | null> {
  const [x, y] = n.inputs as [string, string];
  // the gradient goes to the input that was chosen (the first one on ties, as PyTorch's clamp)
  const mask = em.op('Cast', [em.op(cmp, [x, y])], { to: 1 });
  return [
    needs[0] ? em.unbroadcast(em.mul(d, mask), em.dims(x)) : null,
    needs[1] ? em.unbroadcast(em.mul(d, em.sub(em.scalar(1), mask)), em.dims(y)) : null,
  ];
}

function reduceRule(em: IrEmitter, n: IrNode, d: string, mean: boolean): Array<string | null> {
  const x = n.inputs[0]!;
  const xd = em.dims(x);
  const kept = xd.map((v, i) => i);
  const rawAxes = n.op === 'ReduceSum' ? (n.inputs[1] ? em.get(n.inputs[1]).constant! : kept) : n.attrs.axes ? (n.attrs.axes.value as number[]) : kept;
  const axes = rawAxes.map((v) => (v + xd.length) % xd.length);
  const keepShape = xd.map((v, i) => (axes.includes(i) ? 1 : v));
  let g = em.reshape(d, keepShape);
  if (mean) g = em.div(g, em.scalar(axes.reduce((p, ax) => p * xd[ax]!, 1)));
  return [em.op('Expand', [g, em.ints(xd)]), null];
}

// ---- lowering of fused ops to primitives

/**
 * com.microsoft MultiHeadAttention(q, k, v, projection bias, -, attention bias) on q [B, Tq, W] and k, v
 * [B, Tk, W] as MatMul / Softmax / MatMul per head; the projection bias [3W] is added to q, k and v first, and
 * `unidirectional` adds the causal mask.
 */
function lowerAttention(em: IrEmitter, n: IrNode): void {
  let [q, k, v] = n.inputs;
  const [, , , projBias, , bias] = n.inputs;
  if (!q || !k || !v || n.inputs[4] || n.inputs[6] || n.inputs[7]) throw new UnsupportedError('MultiHeadAttention: only packed-free q, k, v with optional projection and attention biases can be lowered');
  const heads = a(n, 'num_heads', 1);
  const [B, Tq, W] = em.dims(q) as [number, number, number];
  const Tk = em.dims(k)[1]!;
  if (projBias) {
    const part = (i: number) => em.op('Slice', [projBias, em.ints([i * W]), em.ints([(i + 1) * W]), em.ints([0])]);
    [q, k, v] = [em.add(q, part(0)), em.add(k, part(1)), em.add(v, part(2))];
  }
  const hd = W / heads;
  const scale = n.attrs.scale ? (n.attrs.scale.value as number) : 1 / Math.sqrt(hd);
  const split = (x: string, T: number, perm: number[]) => em.transpose(em.reshape(x, [B, T, heads, hd]), perm);
  const qh = split(q, Tq, [0, 2, 1, 3]); // [B, H, Tq, hd]
  const kt = split(k, Tk, [0, 2, 3, 1]); // [B, H, hd, Tk]
  const vh = split(v, Tk, [0, 2, 1, 3]); // [B, H, Tk, hd]
  let s = em.mul(em.matmul(qh, kt), em.scalar(scale)); // [B, H, Tq, Tk]
  if (bias) s = em.add(s, bias);
  if (a(n, 'unidirectional', 0)) {
    if (Tq !== Tk) throw new UnsupportedError('MultiHeadAttention: the causal mode can be lowered only for as many queries as keys');
    // the causal mode: -inf above the diagonal, so each token attends to itself and those before it
    const m = new Float64Array(Tq * Tq);
    for (let i = 0; i < Tq; i++) for (let j = i + 1; j < Tq; j++) m[i * Tq + j] = -Infinity;
    s = em.add(s, em.floats(m, [Tq, Tq], 'causal_mask'));
  }
  const ctx = em.matmul(em.op('Softmax', [s], { axis: -1 }), vh); // [B, H, Tq, hd]
  em.reshape(em.transpose(ctx, [0, 2, 1, 3]), [B, Tq, W], n.outputs[0]); // [B, Tq, W]
}

/** A patch-embedding Conv (stride = kernel, no padding, one group) as patchify + MatMul. */
function lowerPatchConv(em: IrEmitter, n: IrNode): void {
  const [x, w, b] = n.inputs as [string, string, string | undefined];
  const [B, C, H, Wd] = em.dims(x) as [number, number, number, number];
  const [O, , kh, kw] = em.dims(w) as [number, number, number, number];
  const strides = n.attrs.strides ? (n.attrs.strides.value as number[]) : [1, 1];
  const pads = n.attrs.pads ? (n.attrs.pads.value as number[]) : [0, 0, 0, 0];
  const dil = n.attrs.dilations ? (n.attrs.dilations.value as number[]) : [1, 1];
  if (strides[0] !== kh || strides[1] !== kw || pads.some((p) => p !== 0) || dil.some((d) => d !== 1) || a(n, 'group', 1) !== 1 || H % kh || Wd % kw) {
    throw new UnsupportedError(`Conv '${n.outputs[0]}': only patch embeddings (stride = kernel, no padding) have a gradient rule`);
  }
  const gh = H / kh;
  const gw = Wd / kw;
  const patches = em.reshape(em.transpose(em.reshape(x, [B, C, gh, kh, gw, kw]), [0, 2, 4, 1, 3, 5]), [B, gh * gw, C * kh * kw]); // [B, P, C*kh*kw]
  let y = em.matmul(patches, em.transpose(em.reshape(w, [O, C * kh * kw]), [1, 0])); // [B, P, O]
  if (b) y = em.add(y, b);
  em.reshape(em.transpose(y, [0, 2, 1]), [B, O, gh, gw], n.outputs[0]); // [B, O, gh, gw]
}

/** Re-emit `g`'s nodes into `em`, lowering fused ops that have no gradient rule of their own. */
export function appendLowered(em: IrEmitter, nodes: IrNode[]): void {
  for (const n of nodes) {
    if (n.op === 'MultiHeadAttention') lowerAttention(em, n);
    else if (n.op === 'Conv') lowerPatchConv(em, n);
    else em.push(n);
  }
}

/**
 * Append to `em` the backward pass from the scalar `loss` to each of `wrt` (graph inputs or initializers).
 * Returns, for each of `wrt`, the name of its gradient (zeros when the loss does not depend on it).
 */
export function differentiate(em: IrEmitter, loss: string, wrt: string[]): Map<string, string> {
  const nodes = [...em.g.nodes];
  const active = new Set(wrt);
  for (const n of nodes) {
    if (NON_DIFF.has(n.op)) continue;
    if (n.inputs.some((i) => active.has(i))) for (const o of n.outputs) if (em.get(o).dtype === 'float') active.add(o);
  }
  if (!active.has(loss)) throw new ShapeError(`the loss '${loss}' does not depend on any parameter`);
  const lossDims = em.dims(loss);
  if (lossDims.reduce((p, q) => p * q, 1) !== 1) throw new ShapeError(`the loss '${loss}' must be a scalar, got [${lossDims}]`);
  const contrib = new Map<string, string[]>();
  const push = (name: string, g: string) => {
    const list = contrib.get(name);
    if (list) list.push(g);
    else contrib.set(name, [g]);
  };
  const total = (name: string): string | null => {
    const list = contrib.get(name);
    if (!list || list.length === 0) return null;
    const sum = list.length === 1 ? list[0]! : em.op('Sum', list);
    contrib.set(name, [sum]);
    return sum;
  };
  push(loss, em.floats([1], lossDims));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!n.outputs.some((o) => active.has(o))) continue;
    const dys = n.outputs.map((o) => total(o));
    if (dys.every((d) => d === null)) continue;
    const rule = RULES[n.op];
    if (!rule) throw new UnsupportedError(`no gradient rule for op '${n.op}' (node producing '${n.outputs[0]}')`);
    const needs = n.inputs.map((x) => x !== '' && active.has(x));
    const gs = rule(em, n, dys, needs);
    gs.forEach((g, k) => {
      if (g && needs[k]) push(n.inputs[k]!, g);
    });
  }
  const out = new Map<string, string>();
  for (const w of wrt) out.set(w, total(w) ?? em.zeros(em.dims(w)));
  return out;
}

/** Move the named initializers of `g` to graph inputs (so that each step feeds the current weights). */
export function initializersToInputs(g: IrGraph, info: Map<string, ValueInfo>, names: string[]): void {
  for (const name of names) {
    const t = g.inits.get(name);
    if (!t) throw new ShapeError(`graph '${g.name}': no initializer '${name}'`);
    g.inits.delete(name);
    g.inputs.push({ name, dtype: t.dtype, dims: t.dims });
    info.set(name, { dtype: t.dtype, dims: t.dims });
  }
}
