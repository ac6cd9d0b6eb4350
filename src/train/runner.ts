// What the trainer needs from a runtime: a graph (bytes) in, a runner of float32/float64/int64 host tensors
// out. The Session interface of src/runtime carries float32 only, and training graphs may be float64, so
// training has its own small interface. The platform registers its runner, as backends register in
// src/runtime/backends.ts: on Node, src/node/train/ort-run.ts registers onnxruntime-node.
import { UnsupportedError } from '../errors.ts';

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

/** Loads a model (bytes) into a runner; `threads` is the intra-op thread count (the runtime's default when absent). */
export type RunnerFactory = (model: Uint8Array, threads?: number) => Promise<GraphRunner>;

let registered: { name: string; factory: RunnerFactory } | undefined;

/**
 * Register the platform's training runner (the last registration wins).
 * @example registerTrainRunner('onnxruntime-node', createRunner)
 */
export function registerTrainRunner(name: string, factory: RunnerFactory): void {
  registered = { name, factory };
}

/** The registered training runner, or an UnsupportedError when this platform registered none. */
export function trainRunner(): RunnerFactory {
  if (!registered) throw new UnsupportedError('no training runner is registered on this platform (on Node, clipmed\'s entry registers onnxruntime-node through src/node/train/ort-run.ts)');
  return registered.factory;
}
