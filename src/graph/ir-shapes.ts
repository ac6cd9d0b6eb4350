// Static shape inference over the IR (ir.ts), node by node, folding small constant integer tensors (Shape,
// Reshape targets, Slice bounds) so that shape arithmetic is known while building.
import { ShapeError, UnsupportedError } from '../errors.ts';
import { FROM_ONNX, size, type IrGraph, type IrNode, type ValueInfo } from './ir.ts';

function broadcast(a: number[], b: number[], where: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new ShapeError(`${where}: shapes [${a}] and [${b}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

const normAxis = (a: number, rank: number) => (a < 0 ? a + rank : a);
const attrInt = (n: IrNode, k: string, d: number) => (n.attrs[k] ? (n.attrs[k].value as number) : d);
const attrInts = (n: IrNode, k: string) => (n.attrs[k] ? (n.attrs[k].value as number[]) : undefined);

function stridesOf(dims: number[]): number[] {
  const s = new Array(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1]!;
  return s;
}

/** Output infos of one node from its input infos. */
export function inferNode(n: IrNode, info: (name: string) => ValueInfo): ValueInfo[] {
  const where = `${n.op} node producing '${n.outputs[0]}'`;
  const ins = n.inputs.map((x) => (x === '' ? undefined : info(x)));
  const x = ins[0]!;
  const constOf = (i: number, what: string): number[] => {
    const c = ins[i]?.constant;
    if (!c) throw new ShapeError(`${where}: input ${i} (${what}) must be a constant known while building`);
    return c;
  };
  const same = (): ValueInfo[] => [{ dtype: x.dtype, dims: [...x.dims] }];
  switch (n.op) {
    case 'Identity':
      return [{ ...x }];
    case 'Neg': case 'Exp': case 'Log': case 'Sqrt': case 'Sigmoid': case 'Erf': case 'Abs': case 'Tanh': case 'Softmax': case 'LogSoftmax': case 'Reciprocal': case 'Relu': case 'Sign':
      return same();
    case 'LayerNormalization':
      return same();
    case 'Cast': {
      const to = attrInt(n, 'to', 1);
      const dtype = FROM_ONNX[to] ?? 'float';
      return [{ dtype, dims: [...x.dims], constant: x.constant && dtype !== 'float' ? x.constant.map(Math.trunc) : x.constant }];
    }
    case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Min': case 'Max': case 'Pow': {
      const y = ins[1]!;
      const dims = broadcast(x.dims, y.dims, where);
      let constant: number[] | undefined;
      if (x.constant && y.constant && x.dtype !== 'float' && size(dims) <= 64) {
        const f = { Add: (a: number, b: number) => a + b, Sub: (a: number, b: number) => a - b, Mul: (a: number, b: number) => a * b, Div: (a: number, b: number) => Math.trunc(a / b), Min: Math.min, Max: Math.max, Pow: Math.pow }[n.op]!;
        constant = Array.from({ length: size(dims) }, (_, i) => f(x.constant![bIndex(i, dims, x.dims)]!, y.constant![bIndex(i, dims, y.dims)]!));
      }
      return [{ dtype: x.dtype, dims, constant }];
    }
    case 'Sum':
      return [{ dtype: x.dtype, dims: ins.reduce((d, v) => broadcast(d, v!.dims, where), x.dims) }];
    case 'Equal': case 'Less': case 'Greater': case 'LessOrEqual': case 'GreaterOrEqual':
      return [{ dtype: 'bool', dims: broadcast(x.dims, ins[1]!.dims, where) }];
    case 'Where':
      return [{ dtype: ins[1]!.dtype, dims: broadcast(broadcast(x.dims, ins[1]!.dims, where), ins[2]!.dims, where) }];
    case 'MatMul': {
      const a = x.dims;
      const b = ins[1]!.dims;
      if (a.length < 2 || b.length < 2) throw new ShapeError(`${where}: MatMul of 1-D operands is not supported here`);
      if (a[a.length - 1] !== b[b.length - 2]) throw new ShapeError(`${where}: [${a}] @ [${b}]`);
      const batch = broadcast(a.slice(0, -2), b.slice(0, -2), where);
      return [{ dtype: x.dtype, dims: [...batch, a[a.length - 2]!, b[b.length - 1]!] }];
    }
    case 'Gemm': {
      const a = attrInt(n, 'transA', 0) ? [x.dims[1]!, x.dims[0]!] : x.dims;
      const b = attrInt(n, 'transB', 0) ? [ins[1]!.dims[1]!, ins[1]!.dims[0]!] : ins[1]!.dims;
      return [{ dtype: x.dtype, dims: [a[0]!, b[1]!] }];
    }
    case 'Reshape': {
      const target = constOf(1, 'shape');
      const dims = target.map((d, i) => (d === 0 ? x.dims[i]! : d));
      const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const out = dims.map((d) => (d === -1 ? size(x.dims) / known : d));
      if (size(out) !== size(x.dims) || out.some((d) => !Number.isInteger(d))) throw new ShapeError(`${where}: cannot reshape [${x.dims}] to [${target}]`);
      return [{ dtype: x.dtype, dims: out, constant: x.constant }];
    }
    case 'Transpose': {
      const perm = attrInts(n, 'perm') ?? x.dims.map((_, i) => x.dims.length - 1 - i);
      const dims = perm.map((p) => x.dims[p]!);
      let constant: number[] | undefined;
      if (x.constant && x.dtype !== 'float') {
        const st = stridesOf(x.dims);
        const ost = stridesOf(dims);
        constant = Array.from({ length: size(dims) }, (_, i) => {
          let src = 0;
          for (let k = 0; k < dims.length; k++) src += (Math.floor(i / ost[k]!) % dims[k]!) * st[perm[k]!]!;
          return x.constant![src]!;
        });
      }
      return [{ dtype: x.dtype, dims, constant }];
    }
    case 'Concat': {
      const axis = normAxis(attrInt(n, 'axis', 0), x.dims.length);
      const dims = [...x.dims];
      dims[axis] = ins.reduce((s, v) => s + v!.dims[axis]!, 0);
      const constant = ins.every((v) => v!.constant) && x.dims.length === 1 && x.dtype !== 'float' ? ins.flatMap((v) => v!.constant!) : undefined;
      return [{ dtype: x.dtype, dims, constant }];
    }
    case 'Split': {
      const axis = normAxis(attrInt(n, 'axis', 0), x.dims.length);
      const parts = ins[1] ? constOf(1, 'split') : new Array(n.outputs.length).fill(x.dims[axis]! / n.outputs.length);
      return parts.map((p) => {
        const dims = [...x.dims];
        dims[axis] = p;
        return { dtype: x.dtype, dims };
      });
    }
    case 'Shape': {
      const r = x.dims.length;
      const s = normAxis(attrInt(n, 'start', 0), r);
      const e = n.attrs.end ? normAxis(attrInt(n, 'end', r), r) : r;
      const c = x.dims.slice(s, e);
      return [{ dtype: 'int64', dims: [c.length], constant: c }];
    }
    case 'Expand': {
      const target = constOf(1, 'shape');
      const dims = broadcast(x.dims, target, where);
      let constant: number[] | undefined;
      if (x.constant && x.dtype !== 'float' && size(dims) <= 4096) constant = Array.from({ length: size(dims) }, (_, i) => x.constant![bIndex(i, dims, x.dims)]!);
      return [{ dtype: x.dtype, dims, constant }];
    }
    case 'Unsqueeze': {
      const axes = constOf(1, 'axes');
      const rank = x.dims.length + axes.length;
      const norm = axes.map((a) => normAxis(a, rank));
      const dims: number[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) dims.push(norm.includes(i) ? 1 : x.dims[j++]!);
      return [{ dtype: x.dtype, dims, constant: x.constant }];
    }
    case 'Squeeze': {
      const axes = ins[1] ? constOf(1, 'axes').map((a) => normAxis(a, x.dims.length)) : x.dims.flatMap((d, i) => (d === 1 ? [i] : []));
      return [{ dtype: x.dtype, dims: x.dims.filter((_, i) => !axes.includes(i)), constant: x.constant }];
    }
    case 'Gather': {
      const axis = normAxis(attrInt(n, 'axis', 0), x.dims.length);
      const idx = ins[1]!;
      const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
      let constant: number[] | undefined;
      if (x.constant && idx.constant && x.dims.length === 1) constant = idx.constant.map((i) => x.constant![i < 0 ? i + x.dims[0]! : i]!);
      return [{ dtype: x.dtype, dims, constant }];
    }
    case 'GatherElements':
      return [{ dtype: x.dtype, dims: [...ins[1]!.dims] }];
    case 'ScatterElements': case 'ScatterND':
      return same();
    case 'Slice': {
      const { starts, ends, axes, steps } = sliceParams(n, ins, x.dims, where);
      const dims = [...x.dims];
      axes.forEach((a, k) => {
        if (steps[k] !== 1) throw new ShapeError(`${where}: only step 1 slices are supported`);
        dims[a] = Math.max(0, ends[k]! - starts[k]!);
      });
      let constant: number[] | undefined;
      if (x.constant && x.dims.length === 1) constant = x.constant.slice(starts[0], ends[0]);
      return [{ dtype: x.dtype, dims, constant }];
    }
    case 'Pad': {
      const pads = constOf(1, 'pads');
      const r = x.dims.length;
      return [{ dtype: x.dtype, dims: x.dims.map((d, i) => d + pads[i]! + pads[i + r]!) }];
    }
    case 'ReduceMean': case 'ReduceSum': case 'ReduceMax': case 'ReduceSumSquare': {
      const axesRaw = n.op === 'ReduceSum' ? (ins[1] ? constOf(1, 'axes') : undefined) : attrInts(n, 'axes');
      const axes = (axesRaw ?? x.dims.map((_, i) => i)).map((a) => normAxis(a, x.dims.length));
      const keep = attrInt(n, 'keepdims', 1);
      const dims = keep ? x.dims.map((d, i) => (axes.includes(i) ? 1 : d)) : x.dims.filter((_, i) => !axes.includes(i));
      return [{ dtype: x.dtype, dims }];
    }
    case 'ArgMax': {
      const axis = normAxis(attrInt(n, 'axis', 0), x.dims.length);
      const keep = attrInt(n, 'keepdims', 1);
      return [{ dtype: 'int64', dims: keep ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis) }];
    }
    case 'Conv': {
      const w = ins[1]!.dims;
      const strides = attrInts(n, 'strides') ?? [1, 1];
      const pads = attrInts(n, 'pads') ?? [0, 0, 0, 0];
      const spatial = x.dims.slice(2).map((d, i) => Math.floor((d + pads[i]! + pads[i + 2]! - w[i + 2]!) / strides[i]!) + 1);
      return [{ dtype: x.dtype, dims: [x.dims[0]!, w[0]!, ...spatial] }];
    }
    case 'MultiHeadAttention':
      return [{ dtype: x.dtype, dims: [...x.dims] }];
    default:
      throw new UnsupportedError(`${where}: no shape rule for op '${n.op}'`);
  }
}

/** Index into a broadcast operand of shape `from` for flat index `i` of the output shape `out`. */
function bIndex(i: number, out: number[], from: number[]): number {
  const os = stridesOf(out);
  const fs = stridesOf(from);
  const off = out.length - from.length;
  let j = 0;
  for (let k = 0; k < from.length; k++) {
    const c = Math.floor(i / os[k + off]!) % out[k + off]!;
    j += (from[k] === 1 ? 0 : c) * fs[k]!;
  }
  return j;
}

/** Static starts/ends/axes/steps of a Slice node, clamped as ONNX specifies. */
export function sliceParams(n: IrNode, ins: Array<ValueInfo | undefined>, dims: number[], where: string) {
  const c = (i: number, what: string) => {
    const v = ins[i]?.constant;
    if (!v) throw new ShapeError(`${where}: Slice ${what} must be constant while building`);
    return v;
  };
  const rawStarts = c(1, 'starts');
  const rawEnds = c(2, 'ends');
  const axes = (ins[3] ? c(3, 'axes') : rawStarts.map((_, i) => i)).map((a) => normAxis(a, dims.length));
  const steps = ins[4] ? c(4, 'steps') : axes.map(() => 1);
  const clamp = (v: number, d: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
  const starts = axes.map((a, k) => clamp(rawStarts[k]!, dims[a]!));
  const ends = axes.map((a, k) => clamp(rawEnds[k]!, dims[a]!));
  return { starts, ends, axes, steps };
}

/** Infos of every value of the graph, given concrete dims for its inputs. */
export function inferGraph(g: IrGraph, inputDims: Record<string, number[]>): Map<string, ValueInfo> {
  const info = new Map<string, ValueInfo>();
  for (const [name, t] of g.inits) {
    info.set(name, { dtype: t.dtype, dims: t.dims, constant: t.dtype !== 'float' && t.data.length <= 4096 ? Array.from(t.data) : undefined });
  }
  for (const i of g.inputs) {
    const dims = inputDims[i.name] ?? i.dims.map((d) => {
      if (typeof d === 'string') throw new ShapeError(`graph '${g.name}': input '${i.name}' has symbolic dim '${d}'; give its dims`);
      return d;
    });
    info.set(i.name, { dtype: i.dtype, dims });
  }
  const get = (name: string) => {
    const v = info.get(name);
    if (!v) throw new ShapeError(`graph '${g.name}': value '${name}' used before it is defined`);
    return v;
  };
  for (const n of g.nodes) inferNode(n, get).forEach((v, k) => info.set(n.outputs[k]!, v));
  return info;
}
