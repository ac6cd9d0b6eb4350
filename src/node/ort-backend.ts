// onnxruntime-node behind the Session interface (the Node side of the platform boundary): its CPU provider,
// the WebGPU provider that onnxruntime-node 1.30 bundles on Linux, Windows and macOS (Dawn; on Linux it needs
// the Vulkan loader, a Vulkan driver and an adapter), and its CUDA provider where onnxruntime-node's install
// script has put the provider libraries beside the binding. What is missing is said with a typed error.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
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

type Provider = 'cpu' | 'webgpu' | 'cuda';

function sessionOptions(provider: Provider, options: SessionOptions): ort.InferenceSession.SessionOptions {
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

async function create(provider: Provider, model: Uint8Array | string, options: SessionOptions): Promise<Session> {
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

/** Whether the Vulkan loader (libvulkan.so.1) is in a library folder, which Dawn needs on Linux; true elsewhere. */
export function vulkanLoaderFound(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib', '/usr/local/lib'];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/** What to say when Dawn found no adapter: the missing loader, or the missing driver and how to get a software one. */
function noAdapterHint(): string {
  if (!vulkanLoaderFound()) return "the Vulkan loader libvulkan.so.1 is not installed (Debian/Ubuntu: apt-get install libvulkan1), and a Vulkan driver for the GPU is needed";
  if (process.platform === 'linux') {
    return 'no Vulkan driver offered an adapter that Dawn accepts: a GPU with a Vulkan driver is needed' +
      (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES ? ` (VK_ICD_FILENAMES/VK_DRIVER_FILES is set to '${process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES}')` : '') +
      "; without a GPU, a CPU Vulkan driver that Dawn accepts, such as Chromium's SwiftShader (VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json), runs it slowly for testing; Mesa 22's lavapipe lacks features Dawn requires";
  }
  return 'a GPU with a D3D12 (Windows) or Metal (macOS) driver is needed';
}

/** ONNX Runtime's error for a half-precision shader on an adapter without shader-f16, as a typed error; else undefined. */
function noF16(e: unknown): UnsupportedError | undefined {
  const msg = (e as Error)?.message ?? String(e);
  if (!/requires f16 but the device does not support it/.test(msg)) return undefined;
  return new UnsupportedError(`device 'webgpu': this adapter has no half-precision shaders (WebGPU's shader-f16), which --dtype fp16 computes with on GPU devices; use --dtype fp32 (${msg.split('\n')[0]!.replace(/^.*Status Message: /, '')})`, { cause: e });
}

/** A WebGPU session whose runs say, as a typed error, when the adapter cannot run half-precision shaders. */
class WebGpuSession implements Session {
  constructor(private readonly s: Session) {}
  get inputNames() { return this.s.inputNames; }
  get outputNames() { return this.s.outputNames; }
  async run(feeds: Record<string, TensorIn>, outputs?: string[]): Promise<Record<string, TensorOut>> {
    try {
      return await this.s.run(feeds, outputs);
    } catch (e) {
      throw noF16(e) ?? e;
    }
  }
  release() { return this.s.release(); }
}

export const nodeWebGpuBackend: Backend = {
  name: 'onnxruntime-node (webgpu)',
  async create(model, options = {}) {
    if (!nodeProviderBundled('webgpu')) throw new UnsupportedError(`device 'webgpu': this onnxruntime-node ${ort.env.versions?.node ?? ''} build has no WebGPU provider; use device 'cpu'`);
    try {
      return new WebGpuSession(await create('webgpu', model, options));
    } catch (e) {
      const f16 = noF16(e);
      if (f16) throw f16;
      const msg = (e as Error).message ?? String(e);
      if (/adapter|webgpu|dawn|vulkan/i.test(msg)) {
        const reason = msg.split('\n')[0]!.replace(/^.*?(Failed to get a WebGPU adapter)/, '$1');
        throw new UnsupportedError(`device 'webgpu': onnxruntime-node's WebGPU provider could not start (${reason}): ${noAdapterHint()}; or use device 'cpu'`, { cause: e });
      }
      throw e;
    }
  },
};

/** The folder that holds onnxruntime-node's binding and its provider libraries for this platform. */
export function nodeBinFolder(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node'); // <pkg>/dist/index.js
  return join(dirname(dirname(main)), 'bin', 'napi-v6', process.platform, process.arch);
}

/** The CUDA provider's libraries that onnxruntime-node's install script downloads; those not present. */
export function missingCudaProviderFiles(folder = nodeBinFolder()): string[] {
  const names = process.platform === 'win32'
    ? ['onnxruntime_providers_cuda.dll', 'onnxruntime_providers_shared.dll']
    : ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];
  return names.filter((n) => !existsSync(join(folder, n)));
}

const CUDA_INSTALL = 'onnxruntime-node downloads them in its install script (from the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux): ' +
  'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node (or npm install onnxruntime-node --onnxruntime-node-install=cuda12); ' +
  'installs made with ONNXRUNTIME_NODE_INSTALL=skip have none';

export const nodeCudaBackend: Backend = {
  name: 'onnxruntime-node (cuda)',
  async create(model, options = {}) {
    const known = ((ort as unknown as { listSupportedBackends?: () => Array<{ name: string }> }).listSupportedBackends?.() ?? []).some((b) => b.name === 'cuda');
    if (!known) throw new UnsupportedError(`device 'cuda': this onnxruntime-node build (${process.platform}/${process.arch}) has no CUDA provider; onnxruntime-node offers CUDA on Linux x64 only; use device 'webgpu' or 'cpu'`);
    const folder = nodeBinFolder();
    const missing = missingCudaProviderFiles(folder);
    if (missing.length) {
      throw new UnsupportedError(`device 'cuda': onnxruntime-node's CUDA provider is not installed (${missing.join(', ')} missing from ${folder}); ${CUDA_INSTALL}; or use device 'webgpu' or 'cpu'`);
    }
    try {
      return await create('cuda', model, options);
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      if (/cuda|cudnn|cublas|shared librar|Failed to load/i.test(msg)) {
        throw new UnsupportedError(`device 'cuda': onnxruntime-node's CUDA provider could not start (${msg.split('\n')[0]}): it needs an NVIDIA GPU and driver, and CUDA 12 and cuDNN 9 libraries on the library path (LD_LIBRARY_PATH); or use device 'webgpu' or 'cpu'`, { cause: e });
      }
      throw e;
    }
  },
};

registerBackend('onnxruntime-node', ['cpu'], () => nodeBackend, 10);
registerBackend('onnxruntime-node-webgpu', ['webgpu'], () => nodeWebGpuBackend, 10);
registerBackend('onnxruntime-node-cuda', ['cuda'], () => nodeCudaBackend, 10);
