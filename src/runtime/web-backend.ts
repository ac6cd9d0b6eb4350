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
  constructor(
    private readonly ort: Ort,
    private readonly s: import('onnxruntime-web').InferenceSession,
    /** the execution provider the session runs on, and why when it is not the one asked for */
    readonly provider: string,
  ) {}
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

const UNIDIRECTIONAL = new TextEncoder().encode('unidirectional');

/**
 * Why onnxruntime-web's WebGPU provider would compute this graph wrongly, or undefined. onnxruntime-web 1.30's WebGPU
 * MultiHeadAttention ignores the `unidirectional` attribute (its kernel is always built with isUnidirectional false),
 * so a causal text tower came out 1.01 (max relative error) from WebAssembly on Chromium's WebGPU; its native
 * WebGPU provider (onnxruntime-node) honours it. The attribute's name in the model bytes is what is looked for.
 */
export function webGpuMisreads(model: Uint8Array): string | undefined {
  const [first] = UNIDIRECTIONAL;
  outer: for (let i = model.indexOf(first!); i >= 0 && i <= model.length - UNIDIRECTIONAL.length; i = model.indexOf(first!, i + 1)) {
    for (let k = 1; k < UNIDIRECTIONAL.length; k++) if (model[i + k] !== UNIDIRECTIONAL[k]) continue outer;
    return "MultiHeadAttention's unidirectional (causal) attribute, which onnxruntime-web's WebGPU provider ignores";
  }
  return undefined;
}

/**
 * A backend over onnxruntime-web for one execution provider. With 'webgpu', a graph that provider would compute
 * wrongly (webGpuMisreads: the causal text towers) runs on WebAssembly instead; the session's `provider` says which ran.
 */
export function webBackend(provider: 'wasm' | 'webgpu', externalData: Array<{ path: string; data: Uint8Array }> = []): Backend {
  return {
    name: `onnxruntime-web (${provider})`,
    async create(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
      if (typeof model === 'string') throw new ConfigError(`onnxruntime-web takes a model as bytes, not the path '${model}'`);
      const ort = await loadOrt();
      const misread = provider === 'webgpu' ? webGpuMisreads(model) : undefined;
      const ep = misread ? 'wasm' : provider;
      if (ep === 'wasm' && options.threads) ort.env.wasm.numThreads = options.threads;
      try {
        const s = await ort.InferenceSession.create(model, { executionProviders: [ep], graphOptimizationLevel: 'all', externalData });
        return new WebSession(ort, s, misread ? `wasm (WebGPU would misread ${misread})` : ep);
      } catch (e) {
        if (ep === 'webgpu') throw new UnsupportedError(`device 'webgpu': onnxruntime-web could not start WebGPU (${(e as Error).message}); use device 'wasm'`, { cause: e });
        throw e;
      }
    },
  };
}

registerBackend('onnxruntime-web-wasm', ['wasm'], () => webBackend('wasm'), 0);
registerBackend('onnxruntime-web-webgpu', ['webgpu'], () => webBackend('webgpu'), 0);
