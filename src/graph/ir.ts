// A plain in-memory form of an ONNX graph for rewriting: parsed from the ModelProto bytes the builder emits,
// with every value's static shape (and the value itself for small constant tensors, e.g. Reshape shapes)
// inferred node by node (ir-shapes.ts). Gradient graphs are built on it (autodiff.ts) and emitted back to ONNX
// bytes in float32 or float64. Shapes are static: training graphs are built for one batch size and token length.
import onnxProto from 'onnx-proto';
import { ShapeError, UnsupportedError } from '../errors.ts';
import { OPSET } from './builder.ts';

const { onnx } = onnxProto;

export type DType = 'float' | 'int64' | 'int32' | 'bool';
export const FROM_ONNX: Record<number, DType> = { 1: 'float', 11: 'float', 7: 'int64', 6: 'int32', 9: 'bool' };

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string };

export interface IrNode {
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface IrTensor {
  dtype: DType;
  dims: number[];
  /** float tensors as float64 (exact for float32 data); integer tensors as numbers */
  data: Float64Array | number[];
}

export interface ValueInfo {
  dtype: DType;
  dims: number[];
  /** the value, when it is known while building (initializers and folded integer shape arithmetic) */
  constant?: number[];
}

export interface IrGraph {
  name: string;
  nodes: IrNode[];
  inits: Map<string, IrTensor>;
  inputs: Array<{ name: string; dtype: DType; dims: Array<number | string> }>;
  outputs: string[];
  domains: Set<string>;
}

export const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number };
    return l.high * 4294967296 + (l.low >>> 0);
  }
  return Number(v);
}

/** Parse ONNX ModelProto bytes into the IR. */
export function parseModel(bytes: Uint8Array): IrGraph {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  const inits = new Map<string, IrTensor>();
  for (const t of g.initializer ?? []) {
    const dtype = FROM_ONNX[t.dataType ?? 0];
    if (!dtype) throw new UnsupportedError(`initializer '${t.name}': ONNX data type ${t.dataType}`);
    const dims = (t.dims ?? []).map(toNumber);
    let data: Float64Array | number[];
    if (t.dataType === 1) {
      if (t.rawData && t.rawData.length) {
        const raw = t.rawData;
        const copy = new Uint8Array(raw.length);
        copy.set(raw);
        data = Float64Array.from(new Float32Array(copy.buffer));
      } else data = Float64Array.from(t.floatData ?? []);
    } else if (t.dataType === 11) {
      data = Float64Array.from(t.doubleData ?? []);
    } else if (t.dataType === 7) {
      if (t.rawData && t.rawData.length) {
        const copy = new Uint8Array(t.rawData.length);
        copy.set(t.rawData);
        data = Array.from(new BigInt64Array(copy.buffer), Number);
      } else data = (t.int64Data ?? []).map(toNumber);
    } else data = (t.int32Data ?? []).map(toNumber);
    if (data.length !== size(dims)) throw new ShapeError(`initializer '${t.name}': dims [${dims}] but ${data.length} values`);
    inits.set(t.name!, { dtype, dims, data });
  }
  const attrOf = (a: onnxProto.onnx.IAttributeProto): AttrValue => {
    const A = onnx.AttributeProto.AttributeType;
    switch (a.type) {
      case A.INT: return { kind: 'int', value: toNumber(a.i) };
      case A.INTS: return { kind: 'ints', value: (a.ints ?? []).map(toNumber) };
      case A.FLOAT: return { kind: 'float', value: a.f ?? 0 };
      case A.FLOATS: return { kind: 'floats', value: [...(a.floats ?? [])] };
      case A.STRING: return { kind: 'string', value: new TextDecoder().decode(a.s ?? new Uint8Array()) };
      default: throw new UnsupportedError(`attribute '${a.name}' of type ${a.type}`);
    }
  };
  const nodes: IrNode[] = (g.node ?? []).map((n) => ({
    op: n.opType!,
    domain: n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attrs: Object.fromEntries((n.attribute ?? []).map((a) => [a.name!, attrOf(a)])),
  }));
  const initNames = new Set(inits.keys());
  const inputs = (g.input ?? [])
    .filter((i) => !initNames.has(i.name!))
    .map((i) => {
      const tt = i.type!.tensorType!;
      const dims = (tt.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue)));
      return { name: i.name!, dtype: FROM_ONNX[tt.elemType ?? 1] ?? 'float', dims };
    });
  const domains = new Set(nodes.map((n) => n.domain).filter((d) => d !== ''));
  return { name: g.name ?? 'graph', nodes, inits, inputs, outputs: (g.output ?? []).map((o) => o.name!), domains };
}

// ---- emission

export type FloatType = 'float32' | 'float64';

/** Serialise the IR; every float tensor becomes `float` (float32 or float64). */
export function emitModel(g: IrGraph, info: Map<string, ValueInfo>, float: FloatType): Uint8Array {
  const F = float === 'float32' ? 1 : 11;
  const elem = (d: DType) => ({ float: F, int64: 7, int32: 6, bool: 9 })[d];
  const vi = (name: string, dtype: DType, dims: Array<number | string>) =>
    onnx.ValueInfoProto.create({
      name,
      type: onnx.TypeProto.create({
        tensorType: onnx.TypeProto.Tensor.create({
          elemType: elem(dtype),
          shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create(typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }),
        }),
      }),
    });
  const A = onnx.AttributeProto.AttributeType;
  const attr = (name: string, a: AttrValue) => {
    switch (a.kind) {
      case 'int': return onnx.AttributeProto.create({ name, type: A.INT, i: a.value });
      case 'ints': return onnx.AttributeProto.create({ name, type: A.INTS, ints: a.value });
      case 'float': return onnx.AttributeProto.create({ name, type: A.FLOAT, f: a.value });
      case 'floats': return onnx.AttributeProto.create({ name, type: A.FLOATS, floats: a.value });
      case 'string': return onnx.AttributeProto.create({ name, type: A.STRING, s: new TextEncoder().encode(a.value) });
    }
  };
  const nodes = g.nodes.flatMap((n, i) => {
    const attrs = { ...n.attrs };
    if (n.op === 'Cast' && (attrs.to?.value === 1 || attrs.to?.value === 11)) attrs.to = { kind: 'int', value: F };
    const make = (op: string, input: string[], output: string[], a: Record<string, AttrValue>, tag = '') =>
      onnx.NodeProto.create({ opType: op, domain: n.domain, name: `n${i}_${n.op}${tag}`, input, output, attribute: Object.entries(a).map(([k, v]) => attr(k, v)) });
    // ONNX Runtime's CPU provider has Erf for float32 only: in float64 graphs it runs in float32 (about 1e-7 relative)
    if (n.op === 'Erf' && float === 'float64') {
      const lo = `${n.outputs[0]}__f32in`;
      const hi = `${n.outputs[0]}__f32out`;
      return [make('Cast', n.inputs, [lo], { to: { kind: 'int', value: 1 } }, '_in'), make('Erf', [lo], [hi], {}), make('Cast', [hi], n.outputs, { to: { kind: 'int', value: 11 } }, '_out')];
    }
    return [make(n.op, n.inputs, n.outputs, attrs)];
  });
  const inits = [...g.inits].map(([name, t]) => {
    if (t.dtype === 'float') {
      const arr = float === 'float32' ? Float32Array.from(t.data as Float64Array) : Float64Array.from(t.data as Float64Array);
      return onnx.TensorProto.create({ name, dataType: F, dims: t.dims, rawData: new Uint8Array(arr.buffer) });
    }
    if (t.dtype === 'int64') return onnx.TensorProto.create({ name, dataType: 7, dims: t.dims, rawData: new Uint8Array(BigInt64Array.from((t.data as number[]).map(BigInt)).buffer) });
    return onnx.TensorProto.create({ name, dataType: elem(t.dtype), dims: t.dims, int32Data: t.data as number[] });
  });
  const opsetImport = [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })];
  for (const d of g.domains) opsetImport.push(onnx.OperatorSetIdProto.create({ domain: d, version: 1 }));
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'clipmed',
    opsetImport,
    graph: onnx.GraphProto.create({
      name: g.name,
      node: nodes,
      initializer: inits,
      input: g.inputs.map((i) => vi(i.name, i.dtype, info.get(i.name)?.dims ?? i.dims)),
      output: g.outputs.map((o) => {
        const v = info.get(o);
        if (!v) throw new ShapeError(`graph '${g.name}': output '${o}' is never computed`);
        return vi(o, v.dtype, v.dims);
      }),
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}
