// A small, readable builder for ONNX graphs: one method call per op, named inputs, initializer names taken
// from checkpoint keys. It emits the ONNX protobuf messages (onnx-proto) that ONNX Runtime loads directly,
// so a checkpoint becomes a graph without any Python export step.
// Op semantics: https://onnx.ai/onnx/operators/ (opset 17, which has LayerNormalization).
import onnxProto from 'onnx-proto';
import { ShapeError } from '../errors.ts';

const { onnx } = onnxProto;

export const OPSET = 17;
/** Bump when a graph-building function changes, so that cached graphs are rebuilt. */
export const GRAPH_VERSION = 8;

/** A named value in the graph (an input, an initializer or the output of a node). */
export interface Value {
  readonly name: string;
}

export type ElemType = 'float32' | 'int64' | 'int32';
const ELEM: Record<ElemType, number> = { float32: 1, int32: 6, int64: 7 };

type Attr = number | number[] | string | { floats: number[] } | { float: number };

export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inits: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly names = new Set<string>();
  private counter = 0;
  private usesMicrosoftDomain = false;

  constructor(readonly name: string) {}

  private fresh(hint: string): string {
    let n = `${hint}_${this.counter++}`;
    while (this.names.has(n)) n = `${hint}_${this.counter++}`;
    this.names.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new ShapeError(`graph '${this.name}': the name '${name}' is used twice`);
    this.names.add(name);
    return name;
  }

  /** A graph input; string dims are symbolic ("batch"). */
  input(name: string, type: ElemType, shape: Array<number | string>): Value {
    this.inputs.push(valueInfo(this.claim(name), type, shape));
    return { name };
  }

  /** Mark a value as a graph output under `name` (an Identity node renames it). */
  output(value: Value, name: string, type: ElemType, shape: Array<number | string>): void {
    this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [value.name], output: [this.claim(name)], name: `out_${name}` }));
    this.outputs.push(valueInfo(name, type, shape));
  }

  /** A float32 initializer; `name` is the checkpoint key it came from. */
  weight(name: string, data: Float32Array, dims: number[]): Value {
    return this.floatInit(this.claim(name), data, dims);
  }

  private floatInit(name: string, data: Float32Array, dims: number[]): Value {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new ShapeError(`initializer '${name}': dims [${dims}] hold ${size} values, got ${data.length}`);
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.inits.push(onnx.TensorProto.create({ name, dataType: ELEM.float32, dims, rawData: raw }));
    return { name };
  }

  /** A small int64 constant (shapes, axes, indices). */
  ints(values: number[], dims: number[] = [values.length], hint = 'const'): Value {
    const name = this.fresh(hint);
    this.inits.push(onnx.TensorProto.create({ name, dataType: ELEM.int64, dims, int64Data: values }));
    return { name };
  }

  /** A small float32 constant. */
  floats(values: number[], dims: number[] = [values.length], hint = 'const'): Value {
    return this.floatInit(this.fresh(hint), Float32Array.from(values), dims);
  }

  /** Add one node; returns its outputs. */
  node(opType: string, inputs: Array<Value | null>, attrs: Record<string, Attr> = {}, nOut = 1, domain = ''): Value[] {
    const outs = Array.from({ length: nOut }, () => this.fresh(opType.toLowerCase()));
    if (domain === 'com.microsoft') this.usesMicrosoftDomain = true;
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain,
        name: this.fresh(`n_${opType}`),
        input: inputs.map((v) => (v ? v.name : '')),
        output: outs,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outs.map((name) => ({ name }));
  }

  op(opType: string, inputs: Array<Value | null>, attrs: Record<string, Attr> = {}): Value {
    return this.node(opType, inputs, attrs)[0]!;
  }

  // ---- one helper per op, for readability at the call site
  add(a: Value, b: Value) { return this.op('Add', [a, b]); }
  sub(a: Value, b: Value) { return this.op('Sub', [a, b]); }
  mul(a: Value, b: Value) { return this.op('Mul', [a, b]); }
  div(a: Value, b: Value) { return this.op('Div', [a, b]); }
  matmul(a: Value, b: Value) { return this.op('MatMul', [a, b]); }
  sigmoid(x: Value) { return this.op('Sigmoid', [x]); }
  erf(x: Value) { return this.op('Erf', [x]); }
  tanh(x: Value) { return this.op('Tanh', [x]); }
  softmax(x: Value, axis = -1) { return this.op('Softmax', [x], { axis }); }
  reshape(x: Value, shape: number[]) { return this.op('Reshape', [x, this.ints(shape, [shape.length], 'shape')]); }
  transpose(x: Value, perm: number[]) { return this.op('Transpose', [x], { perm }); }
  concat(xs: Value[], axis: number) { return this.op('Concat', xs, { axis }); }
  gather(x: Value, indices: Value, axis = 0) { return this.op('Gather', [x, indices], { axis }); }
  cast(x: Value, to: ElemType) { return this.op('Cast', [x], { to: ELEM[to] }); }
  shape(x: Value, start?: number, end?: number) {
    const attrs: Record<string, Attr> = {};
    if (start !== undefined) attrs.start = start;
    if (end !== undefined) attrs.end = end;
    return this.op('Shape', [x], attrs);
  }
  slice(x: Value, starts: Value, ends: Value, axes: Value) { return this.op('Slice', [x, starts, ends, axes]); }
  expand(x: Value, shape: Value) { return this.op('Expand', [x, shape]); }
  layerNorm(x: Value, scale: Value, bias: Value, epsilon = 1e-5) {
    return this.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: { float: epsilon } });
  }
  conv(x: Value, w: Value, b: Value | null, kernel: number[], strides: number[]) {
    return this.op('Conv', b ? [x, w, b] : [x, w], { kernel_shape: kernel, strides });
  }
  // ---- convolutional towers (ResNet, Swin): 2-D ops with explicit padding, pads as [top, left, bottom, right]
  conv2d(x: Value, w: Value, b: Value | null, o: { kernel: number; stride?: number; pad?: number; group?: number }) {
    const s = o.stride ?? 1;
    const p = o.pad ?? 0;
    return this.op('Conv', b ? [x, w, b] : [x, w], { kernel_shape: [o.kernel, o.kernel], strides: [s, s], pads: [p, p, p, p], group: o.group ?? 1 });
  }
  /** Inference-mode BatchNormalization: (x - mean) / sqrt(var + eps) * scale + bias over axis 1. */
  batchNorm(x: Value, scale: Value, bias: Value, mean: Value, variance: Value, epsilon = 1e-5) {
    return this.op('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: { float: epsilon } });
  }
  relu(x: Value) { return this.op('Relu', [x]); }
  averagePool(x: Value, kernel: number, stride = kernel) {
    return this.op('AveragePool', [x], { kernel_shape: [kernel, kernel], strides: [stride, stride] });
  }
  maxPool(x: Value, kernel: number, stride = kernel, pad = 0) {
    return this.op('MaxPool', [x], { kernel_shape: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, pad, pad] });
  }
  reduceMean(x: Value, axes: number[], keepdims = false) { return this.op('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 }); }
  /** Resize x [N, C, H, W] to `sizes` (int64 [4]), bilinear with align_corners=True (torch's nn.Upsample(align_corners=True)). */
  resizeBilinearAlignCorners(x: Value, sizes: Value) {
    return this.op('Resize', [x, null, null, sizes], { mode: 'linear', coordinate_transformation_mode: 'align_corners' });
  }

  /** The serialized ModelProto. */
  toBytes(): Uint8Array {
    const opsetImport = [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })];
    if (this.usesMicrosoftDomain) opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }));
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'clipmed',
      producerVersion: String(GRAPH_VERSION),
      opsetImport,
      graph: onnx.GraphProto.create({
        name: this.name,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }

  /** The finished graph: serialised on demand, in memory or as files with the weights beside the model. */
  built(): BuiltGraph {
    return new BuiltGraph(this, this.parameterCount());
  }

  /**
   * The model with every initializer over 1 KiB moved to external data (ONNX's `location`, `offset`, `length`),
   * so that a model of any size stays under protobuf's 2 GiB message limit: the model's bytes and the data
   * file's contents as chunks in order (64-byte alignment padding and the weights themselves, not copied).
   * The Node adapter writes them to disk (src/node/graph-files.ts, writeGraphFiles).
   * @example const { model, data } = g.toExternalParts('vision.onnx.data'); // data: [weights, pad, weights, ...]
   */
  toExternalParts(location: string): ExternalParts {
    const data: Uint8Array[] = [];
    const saved: Array<[InstanceType<typeof onnx.TensorProto>, Uint8Array]> = [];
    let offset = 0;
    try {
      for (const t of this.inits) {
        const raw = t.rawData;
        if (!raw || raw.length <= 1024) continue;
        const pad = (64 - (offset % 64)) % 64; // aligned starts let ONNX Runtime map the weights directly
        if (pad) data.push(new Uint8Array(pad));
        offset += pad;
        data.push(raw);
        t.externalData = [
          onnx.StringStringEntryProto.create({ key: 'location', value: location }),
          onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
          onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) }),
        ];
        t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        t.rawData = new Uint8Array(0);
        saved.push([t, raw]);
        offset += raw.length;
      }
      return { model: this.toBytes(), data };
    } finally {
      // the builder keeps its weights inline: `toBytes` after this still gives the self-contained model
      for (const [t, raw] of saved) {
        t.rawData = raw;
        t.externalData = [];
        t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
      }
    }
  }

  /** The names of the initializers (a checkpoint tensor keeps its key as its name). */
  initializerNames(): Set<string> {
    return new Set(this.inits.map((t) => t.name));
  }

  /** Number of float parameters held as initializers. */
  parameterCount(): number {
    return this.inits.reduce((n, t) => n + (t.dataType === ELEM.float32 ? (t.rawData?.length ?? 0) / 4 : 0), 0);
  }
}

function valueInfo(name: string, type: ElemType, shape: Array<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: ELEM[type],
        shape: onnx.TensorShapeProto.create({
          dim: shape.map((d) => onnx.TensorShapeProto.Dimension.create(typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        }),
      }),
    }),
  });
}

function attribute(name: string, v: Attr) {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return onnx.AttributeProto.create({ name, type: A.INT, i: v });
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: A.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: A.INTS, ints: v });
  if ('float' in v) return onnx.AttributeProto.create({ name, type: A.FLOAT, f: v.float });
  return onnx.AttributeProto.create({ name, type: A.FLOATS, floats: v.floats });
}

/** A model with its large weights as external data: the model's bytes, and the data file's contents in chunks. */
export interface ExternalParts {
  model: Uint8Array;
  /** the external data file, in order: concatenated they are its bytes */
  data: Uint8Array[];
}

/**
 * A finished graph: `bytes` serialises it (with the weights inside), `toExternalParts` with the weights apart
 * (written as model + `.data` file by the Node adapter's writeGraphFiles).
 */
export class BuiltGraph {
  constructor(
    private readonly graph: GraphBuilder,
    readonly parameters: number,
  ) {}

  get bytes(): Uint8Array {
    return this.graph.toBytes();
  }

  toExternalParts(location: string): ExternalParts {
    return this.graph.toExternalParts(location);
  }

  /** The names of the graph's initializers: the checkpoint keys it uses, and its own constants. */
  initializerNames(): Set<string> {
    return this.graph.initializerNames();
  }
}
