// onnxruntime-node behind the Session interface (node side of the platform boundary).
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { ConfigError } from '../errors.ts';
import type { Backend, Session, SessionOptions, TensorIn, TensorOut } from './session.ts';

// onnxruntime-node 1.30 starts Microsoft's telemetry SDK when the first session is created. It reads
// /proc/self/cmdline and recurses once per character, so a command line of ~30 KB (450 `--image` paths)
// overflows the main thread's 8 MB stack: SIGSEGV, exit 139. A medical tool should not send usage data
// anyway; it stays off unless the user sets ORT_DISABLE_TELEMETRY=0 themselves.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

function toOrt(t: TensorIn): ort.Tensor {
  if (t.data instanceof Float32Array) return new ort.Tensor('float32', t.data, t.dims);
  if (t.data instanceof BigInt64Array) return new ort.Tensor('int64', t.data, t.dims);
  return new ort.Tensor('int32', t.data, t.dims);
}

class NodeSession implements Session {
  constructor(private readonly s: ort.InferenceSession) {}
  get inputNames() { return this.s.inputNames; }
  get outputNames() { return this.s.outputNames; }

  async run(feeds: Record<string, TensorIn>, outputs?: string[]): Promise<Record<string, TensorOut>> {
    const missing = this.s.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new ConfigError(`session inputs missing: ${missing.join(', ')} (expected ${this.s.inputNames.join(', ')})`);
    const unknown = (outputs ?? []).filter((n) => !this.s.outputNames.includes(n));
    if (unknown.length) throw new ConfigError(`session has no output ${unknown.join(', ')} (outputs: ${this.s.outputNames.join(', ')})`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    const res = outputs ? await this.s.run(ortFeeds, outputs) : await this.s.run(ortFeeds);
    const out: Record<string, TensorOut> = {};
    for (const [k, v] of Object.entries(res)) {
      out[k] = { data: v.data as Float32Array, dims: [...v.dims] };
      v.dispose?.();
    }
    return out;
  }

  async release() { await this.s.release(); }
}

export const nodeBackend: Backend = {
  name: 'onnxruntime-node (cpu)',
  async create(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
    const opts: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
    };
    const s = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
    return new NodeSession(s);
  },
};
