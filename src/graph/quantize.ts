// Quantised graphs made from fp32 ones, with no I/O: every MatMul whose right operand is a constant weight
// (an initializer [K, N], or a Transpose of a torch Linear weight [N, K] or of a Slice of its rows) becomes
// one of ONNX Runtime's com.microsoft kernels:
//   int8: DynamicQuantizeMatMul — activations quantised to uint8 per call, weights int8 symmetric per
//         output column; MLAS runs it as u8s8 integer GEMM (AVX-512 VNNI where the CPU has it).
//   q4:   MatMulNBits with bits=4 — weights in blocks of `blockSize` along K, one fp32 scale per block,
//         symmetric (zero point 8); activations stay fp32 (or int8 compute with accuracyLevel 4).
//   fp16: weights stored as fp16 and cast back to fp32 in the graph (half the file; same kernels).
// Everything else (attention, LayerNorm, activations, embeddings) stays fp32, as the usual dynamic
// quantisation recipes do. Accuracy is measured (cosine to the fp32 embedding), never assumed.
import onnxProto from 'onnx-proto';
import { floatToHalf } from '../checkpoint/dtype.ts';
import { ConfigError } from '../errors.ts';

const { onnx } = onnxProto;
type ModelProto = InstanceType<typeof onnx.ModelProto>;
type TensorProto = onnxProto.onnx.ITensorProto;
type NodeProto = onnxProto.onnx.INodeProto;

export type QuantMode = 'int8' | 'q4' | 'fp16';
export const QUANT_MODES: readonly QuantMode[] = ['int8', 'q4', 'fp16'];

export interface QuantizeOptions {
  /** q4: weights per scale along K (a power of two, at least 16); default 32 */
  blockSize?: number;
  /** q4: MatMulNBits accuracy_level (0 = fp32 compute, 4 = int8 compute); default 4 */
  accuracyLevel?: number;
  /** MatMuls whose weight has fewer elements stay fp32 (default 0: quantise all) */
  minElements?: number;
}

export interface QuantizeReport {
  mode: QuantMode;
  /** MatMuls rewritten */
  matmuls: number;
  /** fp32 weight values replaced */
  weights: number;
  /** bytes of weights before and after */
  bytesBefore: number;
  bytesAfter: number;
}

const FLOAT = 1;
const UINT8 = 2;
const INT8 = 3;
const FLOAT16 = 10;

/** The float values of an initializer held in the model (raw or typed field). */
function floatsOf(t: TensorProto): Float32Array {
  if (t.dataType !== FLOAT) throw new ConfigError(`initializer '${t.name}' is not float32`);
  if (t.rawData && t.rawData.length > 0) {
    const raw = t.rawData;
    // copy: the raw bytes may not be 4-byte aligned inside the decoded buffer
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    return new Float32Array(copy.buffer);
  }
  if (t.floatData && t.floatData.length > 0) return Float32Array.from(t.floatData);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new ConfigError(`initializer '${t.name}' is stored in external data; quantise the model before writing it to files`);
  }
  return new Float32Array(0);
}

function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => Number(d));
}

function tensor(name: string, dataType: number, dims: number[], bytes: Uint8Array): TensorProto {
  return onnx.TensorProto.create({ name, dataType, dims, rawData: bytes });
}

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** [rows, cols] -> [cols, rows] */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}

/**
 * int8 symmetric per output column. `wNK` is the weight as [N, K] (one row per output column).
 * Returns B as [K, N] int8 (DynamicQuantizeMatMul's layout) and one scale per column.
 */
export function quantizeInt8(wNK: Float32Array, N: number, K: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(K * N);
  const scales = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(wNK[n * K + k]!));
    const s = m > 0 ? m / 127 : 1;
    scales[n] = s;
    for (let k = 0; k < K; k++) q[k * N + n] = Math.max(-127, Math.min(127, Math.round(wNK[n * K + k]! / s)));
  }
  return { q, scales };
}

/**
 * 4-bit symmetric blocks along K with zero point 8 (MatMulNBits' default). `wNK` is [N, K].
 * Returns B as [N, blocks, blockSize/2] uint8 (two values a byte, the even k in the low nibble) and
 * scales [N * blocks].
 */
export function quantizeQ4(wNK: Float32Array, N: number, K: number, blockSize: number): { q: Uint8Array; scales: Float32Array; blocks: number } {
  const blocks = Math.ceil(K / blockSize);
  const blob = blockSize / 2;
  const q = new Uint8Array(N * blocks * blob);
  const scales = new Float32Array(N * blocks);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      // the value of largest magnitude maps to -8 (as MLAS does), so the full 4-bit range is used
      let amax = 0;
      let vmax = 0;
      for (let k = k0; k < k1; k++) {
        const v = wNK[n * K + k]!;
        if (Math.abs(v) > amax) { amax = Math.abs(v); vmax = v; }
      }
      const s = amax > 0 ? vmax / -8 : 1;
      scales[n * blocks + b] = s;
      const inv = 1 / s;
      for (let j = 0; j < blockSize; j++) {
        const k = k0 + j;
        const v = k < k1 ? Math.max(0, Math.min(15, Math.round(wNK[n * K + k]! * inv) + 8)) : 8;
        const at = (n * blocks + b) * blob + (j >> 1);
        q[at] = j & 1 ? q[at]! | (v << 4) : v;
      }
    }
  }
  return { q, scales, blocks };
}

/** The values of a small int64 initializer (Slice's starts, ends and axes). */
function intsOf(t: TensorProto | undefined): number[] | undefined {
  if (!t || t.dataType !== 7) return undefined;
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData.length);
    copy.set(t.rawData);
    return Array.from(new BigInt64Array(copy.buffer), Number);
  }
  return (t.int64Data ?? []).map(Number);
}

/**
 * Rows [start, end) of a 2-D float initializer cut by a Slice on axis 0 (the q, k or v block of a packed
 * in_proj_weight), as a tensor of its own; undefined for any other node.
 */
function sliceRows(slice: NodeProto | undefined, inits: Map<string, TensorProto>): TensorProto | undefined {
  if (!slice || slice.opType !== 'Slice' || slice.domain || (slice.input ?? []).length > 4) return undefined;
  const [from, startsName, endsName, axesName] = slice.input as string[];
  const src = inits.get(from!);
  const starts = intsOf(inits.get(startsName!));
  const ends = intsOf(inits.get(endsName!));
  const axes = axesName ? intsOf(inits.get(axesName)) : [0];
  if (!src || src.dataType !== FLOAT || dimsOf(src).length !== 2 || starts?.length !== 1 || ends?.length !== 1 || axes?.length !== 1 || axes[0] !== 0) return undefined;
  const [R, C] = dimsOf(src) as [number, number];
  const [r0, r1] = [starts[0]!, ends[0]!];
  if (!(r0 >= 0 && r0 < r1 && r1 <= R)) return undefined;
  return tensor(`${src.name}[${r0}:${r1}]`, FLOAT, [r1 - r0, C], f32Bytes(floatsOf(src).slice(r0 * C, r1 * C)));
}

function attrInt(name: string, i: number) {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
}

/**
 * Rewrite the weight MatMuls of a model (bytes of a ModelProto with its weights inside) into quantised
 * kernels. Returns the new model's bytes and what was done.
 * @example const { bytes, report } = quantizeModel(graph.bytes, 'int8'); report.matmuls // 14
 */
export function quantizeModel(model: Uint8Array, mode: QuantMode, opts: QuantizeOptions = {}): { bytes: Uint8Array; report: QuantizeReport } {
  if (!QUANT_MODES.includes(mode)) throw new ConfigError(`unknown quantisation '${mode}': expected one of ${QUANT_MODES.join(', ')}`);
  const blockSize = opts.blockSize ?? 32;
  if (mode === 'q4' && (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0)) throw new ConfigError(`q4 block size must be a power of two of at least 16, got ${blockSize}`);
  const m: ModelProto = onnx.ModelProto.decode(model);
  const g = m.graph!;
  const inits = new Map<string, TensorProto>();
  for (const t of g.initializer ?? []) inits.set(t.name!, t);
  const producers = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) producers.set(o, n);
    for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name!));
  const report: QuantizeReport = { mode, matmuls: 0, weights: 0, bytesBefore: 0, bytesAfter: 0 };
  const dropNodes = new Set<NodeProto>();
  const newInits: TensorProto[] = [];
  const replaced = new Map<NodeProto, NodeProto>();
  /** nodes emitted just before a replacement (fp16's Cast) */
  const before = new Map<NodeProto, NodeProto>();
  let counter = 0;

  for (const node of g.node ?? []) {
    if (node.opType !== 'MatMul' || node.domain) continue;
    const bName = node.input![1]!;
    // the weight as [N, K] (torch Linear layout) and where it came from
    let wNK: Float32Array | undefined;
    let N = 0;
    let K = 0;
    let source: TensorProto | undefined;
    const direct = inits.get(bName);
    if (direct && dimsOf(direct).length === 2) {
      [K, N] = dimsOf(direct) as [number, number];
      source = direct;
      wNK = transpose(floatsOf(direct), K, N);
    } else {
      const t = producers.get(bName);
      const perm = t?.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
      // a Transpose of the weight, or of a block of its rows (selfAttention's q, k and v of in_proj_weight)
      const rows = t && t.opType === 'Transpose' && !t.domain && !inits.has(t.input![0]!) ? producers.get(t.input![0]!) : undefined;
      const src = t && t.opType === 'Transpose' && !t.domain ? inits.get(t.input![0]!) ?? sliceRows(rows, inits) : undefined;
      if (src && dimsOf(src).length === 2 && (!perm || (perm[0] === 1 && perm[1] === 0)) && (consumers.get(bName) ?? []).length === 1) {
        [N, K] = dimsOf(src) as [number, number];
        source = src;
        wNK = floatsOf(src);
        dropNodes.add(t!);
        if (rows && (consumers.get(t!.input![0]!) ?? []).length === 1) dropNodes.add(rows);
      }
    }
    if (!wNK || !source || N * K < (opts.minElements ?? 0)) continue;
    report.matmuls++;
    report.weights += N * K;
    report.bytesBefore += N * K * 4;
    const id = `${source.name}.${mode}_${counter++}`;

    // fold a following Add of a [N] constant bias into the kernel's own bias input
    let out = node.output![0]!;
    let bias: string | undefined;
    const next = consumers.get(out) ?? [];
    if (mode !== 'fp16' && next.length === 1 && !graphOutputs.has(out) && next[0]!.opType === 'Add' && !next[0]!.domain) {
      const add = next[0]!;
      const other = add.input![0] === out ? add.input![1]! : add.input![0]!;
      const b = inits.get(other);
      if (b && dimsOf(b).length === 1 && dimsOf(b)[0] === N) {
        bias = other;
        out = add.output![0]!;
        dropNodes.add(add);
      }
    }

    let q: NodeProto;
    if (mode === 'int8') {
      const { q: qw, scales } = quantizeInt8(wNK, N, K);
      newInits.push(tensor(`${id}.q`, INT8, [K, N], new Uint8Array(qw.buffer)));
      newInits.push(tensor(`${id}.scale`, FLOAT, [N], f32Bytes(scales)));
      newInits.push(tensor(`${id}.zero`, INT8, [N], new Uint8Array(N)));
      report.bytesAfter += K * N + N * 5;
      q = onnx.NodeProto.create({
        opType: 'DynamicQuantizeMatMul',
        domain: 'com.microsoft',
        name: `${node.name}_int8`,
        input: [node.input![0]!, `${id}.q`, `${id}.scale`, `${id}.zero`, bias ?? ''],
        output: [out],
      });
    } else if (mode === 'q4') {
      const { q: qw, scales, blocks } = quantizeQ4(wNK, N, K, blockSize);
      newInits.push(tensor(`${id}.q`, UINT8, [N, blocks, blockSize / 2], qw));
      newInits.push(tensor(`${id}.scale`, FLOAT, [N * blocks], f32Bytes(scales)));
      report.bytesAfter += qw.length + scales.byteLength;
      const inputs = [node.input![0]!, `${id}.q`, `${id}.scale`];
      if (bias) inputs.push('', '', bias); // zero_points, g_idx, bias
      q = onnx.NodeProto.create({
        opType: 'MatMulNBits',
        domain: 'com.microsoft',
        name: `${node.name}_q4`,
        input: inputs,
        output: [out],
        attribute: [attrInt('K', K), attrInt('N', N), attrInt('bits', 4), attrInt('block_size', blockSize), attrInt('accuracy_level', opts.accuracyLevel ?? 4)],
      });
    } else {
      // fp16 storage: [K, N] half weights, cast to float at run time (ONNX Runtime folds the cast once)
      const kn = transpose(wNK, N, K);
      const half = new Uint16Array(kn.length);
      for (let i = 0; i < kn.length; i++) half[i] = floatToHalf(kn[i]!);
      newInits.push(tensor(`${id}.w`, FLOAT16, [K, N], new Uint8Array(half.buffer)));
      report.bytesAfter += kn.length * 2;
      const castOut = `${id}.w_f32`;
      const cast = onnx.NodeProto.create({ opType: 'Cast', name: `${node.name}_cast`, input: [`${id}.w`], output: [castOut], attribute: [attrInt('to', FLOAT)] });
      q = onnx.NodeProto.create({ opType: 'MatMul', name: `${node.name}_fp16`, input: [node.input![0]!, castOut], output: [out] });
      before.set(node, cast);
    }
    replaced.set(node, q);
  }

  // rebuild the node list in order; unused float weights are removed
  const nodes: NodeProto[] = [];
  for (const n of g.node ?? []) {
    if (dropNodes.has(n)) continue;
    const r = replaced.get(n);
    if (!r) { nodes.push(n); continue; }
    const pre = before.get(n);
    if (pre) nodes.push(pre);
    nodes.push(r);
  }
  const used = new Set<string>();
  for (const n of nodes) for (const i of n.input ?? []) if (i) used.add(i);
  for (const o of g.output ?? []) used.add(o.name!);
  g.node = nodes;
  g.initializer = [...(g.initializer ?? []).filter((t) => used.has(t.name!)), ...newInits];

  if (mode !== 'fp16' && !(m.opsetImport ?? []).some((o) => o.domain === 'com.microsoft')) {
    m.opsetImport = [...(m.opsetImport ?? []), onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 })];
  }
  m.producerVersion = `${m.producerVersion ?? ''}+${mode}`;
  return { bytes: onnx.ModelProto.encode(m).finish(), report };
}
