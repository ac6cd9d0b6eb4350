// Runs the training graphs (float32 or float64) with onnxruntime-node. Training lives on the Node side for
// now: the Session interface of src/runtime carries float32 only, and these graphs may be float64.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { ConfigError } from '../errors.ts';

export type HostArray = Float64Array | Float32Array | BigInt64Array;
export interface HostTensor {
  data: HostArray;
  dims: number[];
}

export interface GraphRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, HostTensor>, outputs?: string[]): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

function toOrt(t: HostTensor): ort.Tensor {
  if (t.data instanceof Float64Array) return new ort.Tensor('float64', t.data, t.dims);
  if (t.data instanceof Float32Array) return new ort.Tensor('float32', t.data, t.dims);
  return new ort.Tensor('int64', t.data, t.dims);
}

/** Load a model (bytes) into an ONNX Runtime session on the CPU. */
export async function createRunner(model: Uint8Array, threads = availableParallelism()): Promise<GraphRunner> {
  const s = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds, outputs) {
      const missing = s.inputNames.filter((n) => !(n in feeds));
      if (missing.length) throw new ConfigError(`training graph inputs missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`);
      const f: Record<string, ort.Tensor> = {};
      for (const name of s.inputNames) f[name] = toOrt(feeds[name]!);
      const res = outputs ? await s.run(f, outputs) : await s.run(f);
      const out: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(res)) out[k] = { data: v.data as HostArray, dims: [...v.dims] };
      return out;
    },
    release: () => s.release(),
  };
}
