// onnxruntime-node behind the Session interface (the Node side of the platform boundary): its CPU provider,
// and the WebGPU provider that onnxruntime-node 1.30 bundles on Linux, Windows and macOS (Dawn; on Linux it
// needs a Vulkan driver and a GPU adapter, and says so with a typed error when there is none).
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { ConfigError, UnsupportedError } from '../errors.ts';
import { registerBackend } from '../runtime/backends.ts';
import { dropOptimizedGraph, optimizedGraph } from './ort-optimized.ts';
import type { Backend, Session, SessionOptions, TensorIn, TensorOut } from '../runtime/session.ts';

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

function sessionOptions(provider: 'cpu' | 'webgpu', options: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // one block planned for all intermediates grew with every run of a ViT-B/16 batch (+80 MiB over four runs of
    // 8 images); tensors taken from the arena one by one stay at the first run's size
    ...(provider === 'cpu' ? { enableMemPattern: false } : {}),
  };
}

async function create(provider: 'cpu' | 'webgpu', model: Uint8Array | string, options: SessionOptions): Promise<Session> {
  const opts = sessionOptions(provider, options);
  if (provider === 'cpu' && typeof model === 'string') {
    // a cached graph loads already optimised (src/node/ort-optimized.ts): the weights once, not once plus the optimisers' copies
    const optimized = await optimizedGraph(model, opts);
    if (optimized) {
      try {
        return new NodeSession(await ort.InferenceSession.create(optimized, { ...opts, graphOptimizationLevel: 'disabled' }));
      } catch {
        await dropOptimizedGraph(optimized); // made again next time; this session takes the graph itself
      }
    }
  }
  const s = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
  return new NodeSession(s);
}

export const nodeBackend: Backend = {
  name: 'onnxruntime-node (cpu)',
  create: (model, options = {}) => create('cpu', model, options),
};

/** Whether this onnxruntime-node build bundles an execution provider (`ort.listSupportedBackends`). */
export function nodeProviderBundled(name: string): boolean {
  const list = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> }).listSupportedBackends?.() ?? [];
  return list.some((b) => b.name === name && b.bundled);
}

export const nodeWebGpuBackend: Backend = {
  name: 'onnxruntime-node (webgpu)',
  async create(model, options = {}) {
    if (!nodeProviderBundled('webgpu')) throw new UnsupportedError(`device 'webgpu': this onnxruntime-node ${ort.env.versions?.node ?? ''} build has no WebGPU provider; use device 'cpu'`);
    try {
      return await create('webgpu', model, options);
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      if (/adapter|webgpu|dawn|vulkan/i.test(msg)) {
        throw new UnsupportedError(`device 'webgpu': onnxruntime-node's WebGPU provider could not start (${msg.split('\n')[0]!.replace(/^.*?(Failed to get a WebGPU adapter)/, '$1')}); a GPU with a Vulkan (Linux), D3D12 (Windows) or Metal (macOS) driver is needed, or use device 'cpu'`, { cause: e });
      }
      throw e;
    }
  },
};

registerBackend('onnxruntime-node', ['cpu'], () => nodeBackend, 10);
registerBackend('onnxruntime-node-webgpu', ['webgpu'], () => nodeWebGpuBackend, 10);
