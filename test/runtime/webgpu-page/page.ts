// The page of webgpu-browser.test.ts: clipmed's core (ClipModelCore.fromGraphs, as the web app's local mode) on
// onnxruntime-web through src/runtime/web-backend.ts, with the WebGPU or the WebAssembly provider. Bundled by
// esbuild in the test; the graphs, the BPE merges and onnxruntime-web's .wasm files come from the test's server.
import * as ort from 'onnxruntime-web';
import { ClipModelCore } from '../../../src/models/clip-model-core.ts';
import type { ModelSpec } from '../../../src/models/spec.ts';
import { webBackend } from '../../../src/runtime/web-backend.ts';
import { ClipTokenizer } from '../../../src/text/clip-bpe.ts';

ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1; // the page is not cross-origin isolated

const bytes = async (path: string) => new Uint8Array(await (await fetch(path)).arrayBuffer());

async function adapter(): Promise<string> {
  type Gpu = { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> };
  const gpu = (globalThis as unknown as { navigator: { gpu?: Gpu } }).navigator.gpu; // (no DOM types in this tsconfig)
  if (!gpu) return 'no navigator.gpu';
  const a = await gpu.requestAdapter();
  return a ? `${a.info?.vendor ?? '?'}/${a.info?.architecture ?? '?'}` : 'no adapter';
}

/** Embed the texts and the pixels ([n, 3, S, S]) with one provider; plain arrays, for page.evaluate. */
async function check(provider: 'wasm' | 'webgpu', texts: string[], pixels: number[], n: number) {
  const spec = (await (await fetch('/files/spec.json')).json()) as ModelSpec;
  const [vision, visionData, text, textData, bpe] = await Promise.all(['vision.onnx', 'vision.onnx.data', 'text.onnx', 'text.onnx.data', 'bpe.txt.gz'].map((f) => bytes(`/files/${f}`)));
  const backend = webBackend(provider, [{ path: 'vision.onnx.data', data: visionData! }, { path: 'text.onnx.data', data: textData! }]);
  const core = ClipModelCore.fromGraphs({ spec, vision: vision!, text: text!, tokenizer: await ClipTokenizer.load(bpe!), backend, threads: 1 });
  try {
    const t = await core.embedTexts(texts);
    const i = await core.embedPixels(Float32Array.from(pixels), n);
    // the provider each graph's session runs on (WebSession.provider), from sessions of their own
    const providers: Record<string, string> = {};
    for (const [name, graph] of [['vision', vision!], ['text', text!]] as const) {
      const s = await backend.create(graph);
      providers[name] = (s as unknown as { provider: string }).provider;
      await s.release();
    }
    return { text: Array.from(t.embeddings), image: Array.from(i.embeddings), adapter: await adapter(), providers };
  } finally {
    await core.release();
  }
}

Object.assign(globalThis, { clipmedCheck: check, clipmedReady: true });
