// Local mode: the model runs in the page on clipmed's own core (ClipModelCore.fromGraphs) with onnxruntime-web
// (WebGPU where the browser has an adapter, else WASM). Only the model's compiled graphs, its spec and its
// tokenizer file come from the server; images and results stay in the page.
import bpeUrl from '../../data/clip-bpe/bpe_simple_vocab_16e6.txt.gz?url';
import { memoryFiles, webBackend, webGpuMisreads } from '../../src/browser.ts';
import { ClipModelCore } from '../../src/models/clip-model-core.ts';
import type { ModelMeta } from '../../src/node/compile.ts';
import type { TextTokenizer } from '../../src/models/family.ts';
import type { PretrainedSpec } from '../../src/models/pretrained.ts';
import type { ModelSpec } from '../../src/models/spec.ts';
import { PaddedClipTokenizer, tokenizerFromFiles } from '../../src/models/tokenizers.ts';
import { ClipTokenizer } from '../../src/text/clip-bpe.ts';
import type { ClipModel } from '../../src/node/clip-model.ts';
import type { Api } from './api.ts';

/** A model as GET /v1/models describes it (the parts local mode uses). */
export interface ServedModel {
  name: string;
  /** a published preprocessing protocol the server applies instead of the checkpoint's transform */
  protocol?: string;
  /** the tokenizer file to fetch (WordPiece vocabulary, SentencePiece model); none for CLIP BPE */
  tokenizerFile?: string;
  /** the registry's scoring and templates, the defaults of zero-shot classification */
  pretrained?: { scoring: 'softmax' | 'sigmoid' | 'positive-negative-pair'; templates: string };
}

async function hasWebGpu(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  try {
    return Boolean(gpu && (await gpu.requestAdapter()));
  } catch {
    return false;
  }
}

export class LocalModel {
  private constructor(
    /** clipmed's core model, running on onnxruntime-web */
    readonly core: ClipModelCore,
    readonly source: { name: string },
    private readonly protocol: string | undefined,
    /** the execution provider the sessions run on, and why when it is not the first choice */
    readonly device: string,
  ) {}

  /** Fetch a served model's spec, graphs and tokenizer, and build clipmed's core on onnxruntime-web. */
  static async load(api: Api, served: ServedModel, force?: string): Promise<LocalModel> {
    const name = served.name;
    const base = `/v1/models/${encodeURIComponent(name)}`;
    const bytes = async (path: string) => new Uint8Array(await (await api.get(path)).arrayBuffer());
    const meta = (await (await api.get(`${base}/files/meta.json`)).json()) as ModelMeta & { spec?: ModelSpec };
    if (!meta.spec) throw new Error(`the server's compiled ${name} has no model spec (recompile it with this clipmed)`);
    const [vision, visionData, text, textData] = await Promise.all(['vision.onnx', 'vision.onnx.data', 'text.onnx', 'text.onnx.data'].map((f) => bytes(`${base}/files/${f}`)));
    const externalData = [{ path: 'vision.onnx.data', data: visionData! }, { path: 'text.onnx.data', data: textData! }];

    let tokenizer: TextTokenizer;
    if (meta.text.tokenizer.kind === 'clip-bpe') {
      // the merges ship with the app
      const bpe = await ClipTokenizer.load(new Uint8Array(await (await fetch(bpeUrl)).arrayBuffer()));
      tokenizer = meta.text.padId === 0 ? bpe : new PaddedClipTokenizer(bpe, meta.text.padId);
    } else {
      const file = served.tokenizerFile;
      if (!file) throw new Error(`the server names no tokenizer file for ${name}`);
      tokenizer = await tokenizerFromFiles(meta.text, memoryFiles(name, { [file]: await bytes(`${base}/tokenizer/${encodeURIComponent(file)}`) }));
    }
    const build = (provider: 'wasm' | 'webgpu') => {
      // one thread: the page is not cross-origin isolated, so WASM threads are not available
      const core = ClipModelCore.fromGraphs({ spec: meta.spec!, vision: vision!, text: text!, tokenizer, backend: webBackend(provider, externalData), threads: 1, protocol: served.protocol, name });
      core.pretrained = served.pretrained as PretrainedSpec | undefined;
      return core;
    };
    const source = { name };
    if (force !== 'wasm' && (await hasWebGpu())) {
      const core = build('webgpu');
      try {
        await core.embedTexts(['a']); // starts the session now, so that a WebGPU failure shows here
        // a causal text tower runs on WebAssembly (webBackend): say so rather than claim WebGPU for both towers
        const misread = webGpuMisreads(text!);
        return new LocalModel(core, source, served.protocol, misread ? `webgpu; the text tower on wasm (WebGPU would misread ${misread})` : 'webgpu');
      } catch (err) {
        await core.release().catch(() => undefined);
        return new LocalModel(build('wasm'), source, served.protocol, `wasm; WebGPU failed: ${err instanceof Error ? err.message : err}`);
      }
    }
    return new LocalModel(build('wasm'), source, served.protocol, 'wasm');
  }

  /** how the model's input covers an image: a protocol (CheXzero's) fits the longest side and pads */
  get resizeMode(): 'shortest' | 'longest' | 'squash' {
    return this.protocol ? 'longest' : this.core.meta.preprocess.resizeMode;
  }

  /** The core where the pipeline functions' signatures still name the Node ClipModel (they use only the core's members). */
  asClipModel(): ClipModel {
    return this.core as unknown as ClipModel;
  }
}
