// fp16 compute for GPU devices: a graph whose activations and weights are float16 throughout, made from an fp32
// graph with no I/O. `--dtype fp16` on webgpu and cuda runs this (on cpu it stays the fp16-weight graph of
// quantize.ts, which computes in fp32: CPUs gain nothing from half arithmetic).
//   - every float initializer and float Constant becomes float16 (finite values clamped to +-65504);
//   - float graph inputs are cast to float16 on entry and float outputs back to float32 on exit, so callers
//     feed and read float32 as before;
//   - Cast(to=float) becomes Cast(to=float16), except where its value only feeds ArgMax/ArgMin: token ids cast for
//     the end-token ArgMax (49407 is not exact in half precision, so ties would pick the wrong position);
//   - LayerNormalization keeps computing its mean and variance in float32 (its stash_type, 1 by default) and ONNX
//     Runtime's attention kernels run their softmax in float32, so no island of float32 is needed around them.
// Accuracy is measured (cosine to the fp32 embedding), not assumed: test/graph/half.test.ts on ONNX Runtime's CPU
// provider (which casts around the kernels it lacks in half), and bench/gpu-check.sh on a GPU.
import onnxProto from 'onnx-proto';
import { floatToHalf } from '../checkpoint/dtype.ts';
import { ConfigError } from '../errors.ts';

const { onnx } = onnxProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type NodeProto = onnxProto.onnx.INodeProto;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const HALF_MAX = 65504;

export interface HalfReport {
  /** float initializers and Constants turned to float16 */
  tensors: number;
  /** Cast(to=float) nodes turned to float16, and those kept for ArgMax */
  casts: number;
  keptCasts: number;
  /** graph inputs and outputs given a Cast at the boundary */
  inputs: number;
  outputs: number;
}

function toHalf(t: TensorProto): void {
  let floats: Float32Array;
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData.length);
    copy.set(t.rawData);
    floats = new Float32Array(copy.buffer);
  } else floats = Float32Array.from(t.floatData ?? []);
  const half = new Uint16Array(floats.length);
  for (let i = 0; i < floats.length; i++) {
    const v = floats[i]!;
    // finite values beyond half's range become its largest finite value, not infinity: BERT's additive mask is
    // (mask - 1) * float32 max, and 0 * infinity would be NaN for every real token
    half[i] = floatToHalf(Number.isFinite(v) ? Math.max(-HALF_MAX, Math.min(HALF_MAX, v)) : v);
  }
  t.dataType = FLOAT16;
  t.floatData = [];
  t.rawData = new Uint8Array(half.buffer);
}

/**
 * The float16-compute form of a model (bytes of a ModelProto with its weights inside, as inlineExternalData
 * gives). Inputs and outputs keep their float32 types.
 * @example const { bytes, report } = halfComputeModel(fp32Bytes); report.tensors // 68
 */
export function halfComputeModel(model: Uint8Array): { bytes: Uint8Array; report: HalfReport } {
  const m = onnx.ModelProto.decode(model);
  const g = m.graph;
  if (!g) throw new ConfigError('model has no graph');
  if ((g.initializer ?? []).some((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)) throw new ConfigError('halfComputeModel needs the weights inside the model (inlineExternalData)');
  const report: HalfReport = { tensors: 0, casts: 0, keptCasts: 0, inputs: 0, outputs: 0 };
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node ?? []) for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);

  for (const t of g.initializer ?? []) {
    if (t.dataType === FLOAT) { toHalf(t); report.tensors++; }
  }
  for (const n of g.node ?? []) {
    if (n.domain) continue;
    if (n.opType === 'Constant' || n.opType === 'ConstantOfShape') {
      for (const a of n.attribute ?? []) {
        if (a.t && a.t.dataType === FLOAT) { toHalf(a.t); report.tensors++; }
        if (a.name === 'value_float' || a.name === 'value_floats') throw new ConfigError(`Constant '${n.name}' with ${a.name}: not handled by the fp16 rewrite`);
      }
    }
    if (n.opType === 'Cast') {
      const to = n.attribute!.find((a) => a.name === 'to')!;
      if (Number(to.i) !== FLOAT) continue;
      const uses = consumers.get(n.output![0]!) ?? [];
      if (uses.length > 0 && uses.every((u) => !u.domain && (u.opType === 'ArgMax' || u.opType === 'ArgMin'))) { report.keptCasts++; continue; }
      to.i = FLOAT16;
      report.casts++;
    }
  }

  // the boundary: float32 in and out, float16 inside
  const head: NodeProto[] = [];
  for (const input of g.input ?? []) {
    if (input.type?.tensorType?.elemType !== FLOAT) continue;
    const inner = `${input.name}.fp16`;
    for (const n of consumers.get(input.name!) ?? []) n.input = n.input!.map((i) => (i === input.name ? inner : i));
    head.push(onnx.NodeProto.create({ opType: 'Cast', name: `${input.name}_to_fp16`, input: [input.name!], output: [inner], attribute: [onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT16 })] }));
    report.inputs++;
  }
  const tail: NodeProto[] = [];
  for (const output of g.output ?? []) {
    if (output.type?.tensorType?.elemType !== FLOAT) continue;
    const inner = `${output.name}.fp16`;
    for (const n of g.node ?? []) {
      n.output = n.output!.map((o) => (o === output.name ? inner : o));
      n.input = n.input!.map((i) => (i === output.name ? inner : i)); // an output also read inside the graph
    }
    tail.push(onnx.NodeProto.create({ opType: 'Cast', name: `${output.name}_to_fp32`, input: [inner], output: [output.name!], attribute: [onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT })] }));
    report.outputs++;
  }
  g.node = [...head, ...(g.node ?? []), ...tail];
  g.valueInfo = []; // intermediate types changed; ONNX Runtime infers them again
  m.producerVersion = `${m.producerVersion ?? ''}+fp16-compute`;
  return { bytes: onnx.ModelProto.encode(m).finish(), report };
}
