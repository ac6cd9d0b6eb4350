// Runs the training graphs (float32 or float64) with onnxruntime-node, and registers itself as the training
// runner (src/train/runner.ts) when this module loads: the Node side of ClipTrainer.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { ConfigError } from '../../errors.ts';
import { registerTrainRunner, type GraphRunner, type HostArray, type HostTensor } from '../../train/runner.ts';

export type { GraphRunner, HostArray, HostTensor } from '../../train/runner.ts';

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

registerTrainRunner('onnxruntime-node', createRunner);
