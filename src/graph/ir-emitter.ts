// Appends nodes to an IR graph, inferring each new value's static shape as it goes, with one helper per op
// (the IR-side twin of GraphBuilder). Gradient rules and the training losses are written with it.
import { ShapeError } from '../errors.ts';
import type { AttrValue, IrGraph, IrNode, ValueInfo } from './ir.ts';
import { inferNode } from './ir-shapes.ts';

type AttrIn = number | number[] | string | { float: number };

function attrOf(v: AttrIn): AttrValue {
  if (typeof v === 'number') return { kind: 'int', value: v };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) return { kind: 'ints', value: v };
  return { kind: 'float', value: v.float };
}

export class IrEmitter {
  private counter = 0;
  private readonly used: Set<string>;

  constructor(
    readonly g: IrGraph,
    readonly info: Map<string, ValueInfo>,
  ) {
    this.used = new Set([...info.keys(), ...g.nodes.flatMap((n) => n.outputs)]);
  }

  fresh(hint: string): string {
    let n = `${hint}__${this.counter++}`;
    while (this.used.has(n)) n = `${hint}__${this.counter++}`;
    this.used.add(n);
    return n;
  }

  get(name: string): ValueInfo {
    const v = this.info.get(name);
    if (!v) throw new ShapeError(`graph '${this.g.name}': no value '${name}'`);
    return v;
  }

  dims(name: string): number[] {
    return this.get(name).dims;
  }

  /** Append a node (outputs named fresh unless given); returns its outputs. */
  node(op: string, inputs: string[], attrs: Record<string, AttrIn> = {}, opts: { nOut?: number; outputs?: string[]; domain?: string } = {}): string[] {
    const outputs = opts.outputs ?? Array.from({ length: opts.nOut ?? 1 }, () => this.fresh(op.toLowerCase()));
    for (const o of outputs) this.used.add(o);
    const n: IrNode = { op, domain: opts.domain ?? '', inputs, outputs, attrs: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, attrOf(v)])) };
    inferNode(n, (x) => this.get(x)).forEach((v, k) => this.info.set(outputs[k]!, v));
    this.g.nodes.push(n);
    return outputs;
  }

  /** Append an existing node as it is. */
  push(n: IrNode): void {
    inferNode(n, (x) => this.get(x)).forEach((v, k) => this.info.set(n.outputs[k]!, v));
    for (const o of n.outputs) this.used.add(o);
    this.g.nodes.push(n);
  }

  op(op: string, inputs: string[], attrs: Record<string, AttrIn> = {}, output?: string): string {
    return this.node(op, inputs, attrs, output ? { outputs: [output] } : {})[0]!;
  }

  ints(values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh('c_int');
    this.g.inits.set(name, { dtype: 'int64', dims, data: values });
    this.info.set(name, { dtype: 'int64', dims, constant: values });
    return name;
  }

  floats(values: number[] | Float64Array, dims: number[] = [values.length], hint = 'c_float'): string {
    const name = this.fresh(hint);
    this.g.inits.set(name, { dtype: 'float', dims, data: Float64Array.from(values) });
    this.info.set(name, { dtype: 'float', dims });
    return name;
  }

  scalar(v: number): string {
    return this.floats([v], []);
  }

  add(a: string, b: string) { return this.op('Add', [a, b]); }
  sub(a: string, b: string) { return this.op('Sub', [a, b]); }
  mul(a: string, b: string) { return this.op('Mul', [a, b]); }
  div(a: string, b: string) { return this.op('Div', [a, b]); }
  neg(a: string) { return this.op('Neg', [a]); }
  matmul(a: string, b: string) { return this.op('MatMul', [a, b]); }
  reshape(x: string, dims: number[], output?: string) { return this.op('Reshape', [x, this.ints(dims)], {}, output); }
  transpose(x: string, perm: number[], output?: string) { return this.op('Transpose', [x], { perm }, output); }
  reduceSum(x: string, axes: number[], keepdims = 1) { return this.op('ReduceSum', [x, this.ints(axes)], { keepdims }); }
  reduceMean(x: string, axes: number[], keepdims = 1) { return this.op('ReduceMean', [x], { axes, keepdims }); }
  /** Swap the last two axes. */
  transposeLast(x: string) {
    const r = this.dims(x).length;
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return this.transpose(x, perm);
  }
  /** Zeros of a static shape, as a broadcast scalar. */
  zeros(dims: number[]) { return this.op('Expand', [this.scalar(0), this.ints(dims)]); }

  /** Sum `x` (of a broadcast result's shape) down to `to`, the shape an operand had before broadcasting. */
  unbroadcast(x: string, to: number[]): string {
    const from = this.dims(x);
    if (from.length === to.length && from.every((d, i) => d === to[i])) return x;
    const off = from.length - to.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) if (i < off || (to[i - off] === 1 && from[i] !== 1)) axes.push(i);
    const s = axes.length ? this.reduceSum(x, axes, 1) : x;
    return this.reshape(s, to);
  }
}
