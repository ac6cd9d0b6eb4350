// onnxruntime-web behind the Session interface: WebAssembly ('wasm') and WebGPU ('webgpu') in a browser (and
// WebAssembly on Node, where it is a slower fallback). The module is imported on first use, so nothing loads
// it unless the backend is asked for. Models are bytes; weights kept as ONNX external data come as `externalData`.
import { ConfigError, UnsupportedError } from '../errors.ts';
import { registerBackend } from './backends.ts';
import type { Backend, Session, SessionOptions, TensorIn, TensorOut } from './session.ts';

type Ort = typeof import('onnxruntime-web');

let ortPromise: Promise<Ort> | undefined;
const loadOrt = () => (ortPromise ??= import('onnxruntime-web'));

class WebSession implements Session {
  constructor(private readonly ort: Ort, private readonly s: import('onnxruntime-web').InferenceSession) {}
  get inputNames() { return this.s.inputNames; }
  get outputNames() { return this.s.outputNames; }

  async run(feeds: Record<string, TensorIn>, outputs?: string[]): Promise<Record<string, TensorOut>> {
    const missing = this.s.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new ConfigError(`session inputs missing: ${missing.join(', ')} (expected ${this.s.inputNames.join(', ')})`);
    const t: Record<string, import('onnxruntime-web').Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      const type = v.data instanceof Float32Array ? 'float32' : v.data instanceof BigInt64Array ? 'int64' : 'int32';
      t[k] = new this.ort.Tensor(type, v.data, v.dims);
    }
    const res = outputs ? await this.s.run(t, outputs) : await this.s.run(t);
    const out: Record<string, TensorOut> = {};
    for (const [k, v] of Object.entries(res)) out[k] = { data: v.data as Float32Array, dims: [...v.dims] };
    return out;
  }

  async release() { await this.s.release(); }
}

/** A backend over onnxruntime-web for one execution provider. */
export function webBackend(provider: 'wasm' | 'webgpu', externalData: Array<{ path: string; data: Uint8Array }> = []): Backend {
  return {
    name: `onnxruntime-web (${provider})`,
    async create(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
      if (typeof model === 'string') throw new ConfigError(`onnxruntime-web takes a model as bytes, not the path '${model}'`);
      const ort = await loadOrt();
      if (provider === 'wasm' && options.threads) ort.env.wasm.numThreads = options.threads;
      try {
        const s = await ort.InferenceSession.create(model, { executionProviders: [provider], graphOptimizationLevel: 'all', externalData });
        return new WebSession(ort, s);
      } catch (e) {
        if (provider === 'webgpu') throw new UnsupportedError(`device 'webgpu': onnxruntime-web could not start WebGPU (${(e as Error).message}); use device 'wasm'`, { cause: e });
        throw e;
      }
    },
  };
}

registerBackend('onnxruntime-web-wasm', ['wasm'], () => webBackend('wasm'), 0);
registerBackend('onnxruntime-web-webgpu', ['webgpu'], () => webBackend('webgpu'), 0);
