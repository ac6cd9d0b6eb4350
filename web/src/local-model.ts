// Local mode: the model runs in the page with onnxruntime-web (WebGPU where the browser has an adapter, else
// WASM). Only the model's compiled graphs and spec come from the server; images and results stay here.
// The class has the shape of clipmed's ClipModel that the pipeline functions use (meta, embedTexts,
// embedPixels, embedRasters, preprocessRasters), so buildClassifier, classifyRasters and heatmaps run unchanged.
import * as ort from 'onnxruntime-web/webgpu';
import bpeUrl from '../../data/clip-bpe/bpe_simple_vocab_16e6.txt.gz?url';
import { ClipTokenizer } from '../../src/text/clip-bpe.ts';
import { PaddedClipTokenizer, tokenizerFromFiles } from '../../src/models/tokenizers.ts';
import { memoryFiles } from '../../src/models/spec.ts';
import { getProtocol, preprocess, runProtocolBatch, type Raster } from '../../src/browser.ts';
import type { ModelMeta } from '../../src/models/convert.ts';
import type { TextTokenizer } from '../../src/models/family.ts';
import type { ClipModel } from '../../src/models/clip-model.ts';
import type { Api } from './api.ts';

function normalizeRows(m: Float32Array, dim: number): Float32Array {
  for (let r = 0; r < m.length / dim; r++) {
    let s = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) s += m[i]! * m[i]!;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let i = r * dim; i < (r + 1) * dim; i++) m[i]! *= inv;
  }
  return m;
}

async function providers(force?: string): Promise<string[]> {
  if (force === 'wasm') return ['wasm'];
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  try {
    if (gpu && (await gpu.requestAdapter())) return ['webgpu', 'wasm'];
  } catch {
    // no adapter: WASM
  }
  return ['wasm'];
}

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

export class LocalModel {
  private constructor(
    readonly source: { name: string },
    readonly pretrained: ServedModel['pretrained'],
    private readonly protocol: string | undefined,
    readonly meta: ModelMeta,
    private readonly tokenizer: TextTokenizer,
    private readonly vision: ort.InferenceSession,
    private readonly text: ort.InferenceSession,
    readonly device: string,
  ) {}

  /** Fetch a served model's graphs and build both sessions in the page. */
  static async load(api: Api, served: ServedModel, force?: string): Promise<LocalModel> {
    const name = served.name;
    ort.env.wasm.numThreads = 1; // no SharedArrayBuffer needed (the page is not cross-origin isolated)
    const meta = (await (await api.get(`/v1/models/${encodeURIComponent(name)}/files/meta.json`)).json()) as ModelMeta;
    const bytes = async (file: string) => new Uint8Array(await (await api.get(`/v1/models/${encodeURIComponent(name)}/files/${file}`)).arrayBuffer());
    const eps = await providers(force);
    const session = async (graph: 'vision' | 'text') =>
      ort.InferenceSession.create(await bytes(`${graph}.onnx`), {
        executionProviders: eps,
        graphOptimizationLevel: 'all',
        externalData: [{ path: `${graph}.onnx.data`, data: await bytes(`${graph}.onnx.data`) }],
      });
    let tokenizer: TextTokenizer;
    if (meta.text.tokenizer.kind === 'clip-bpe') {
      // the merges ship with the app
      const bpe = await ClipTokenizer.load(new Uint8Array(await (await fetch(bpeUrl)).arrayBuffer()));
      tokenizer = meta.text.padId === 0 ? bpe : new PaddedClipTokenizer(bpe, meta.text.padId);
    } else {
      const file = served.tokenizerFile;
      if (!file) throw new Error(`the server names no tokenizer file for ${name}`);
      const data = new Uint8Array(await (await api.get(`/v1/models/${encodeURIComponent(name)}/tokenizer/${encodeURIComponent(file)}`)).arrayBuffer());
      tokenizer = await tokenizerFromFiles(meta.text, memoryFiles(name, { [file]: data }));
    }
    const vision = await session('vision');
    const text = await session('text');
    return new LocalModel({ name }, served.pretrained, served.protocol, meta, tokenizer, vision, text, eps[0]!);
  }

  /** how the model's input covers an image: a protocol (CheXzero's) fits the longest side and pads */
  get resizeMode(): 'shortest' | 'longest' | 'squash' {
    return this.protocol ? 'longest' : this.meta.preprocess.resizeMode;
  }

  get embedDim(): number {
    return this.meta.embedDim;
  }

  /** This object where the pipeline functions expect a ClipModel (they use only the members above). */
  asClipModel(): ClipModel {
    return this as unknown as ClipModel;
  }

  /** As ClipModel.preprocessRasters: the checkpoint's transform, or the protocol the server uses. */
  preprocessRasters(images: Raster[]): Float32Array {
    if (!this.protocol) return preprocess(images, this.meta.preprocess);
    const out = runProtocolBatch(images, getProtocol(this.protocol));
    const s = this.meta.preprocess.size;
    const [h, w] = typeof s === 'number' ? [s, s] : s;
    if (out.length !== images.length * 3 * h * w) throw new Error(`protocol '${this.protocol}' does not make ${w}x${h} images`);
    return out;
  }

  async embedPixels(pixels: Float32Array, n: number, opts: { normalize?: boolean; batchSize?: number; patchEmbeds?: boolean } = {}) {
    const s = this.meta.preprocess.size;
    const [h, w] = typeof s === 'number' ? [s, s] : s;
    const per = 3 * h * w;
    const E = this.embedDim;
    const P = this.meta.patchTokens.grid ** 2;
    const out = new Float32Array(n * E);
    const patchEmbeds = opts.patchEmbeds ? new Float32Array(n * P * E) : undefined;
    const bs = opts.batchSize ?? 8;
    for (let i = 0; i < n; i += bs) {
      const b = Math.min(bs, n - i);
      const feeds = { pixel_values: new ort.Tensor('float32', pixels.slice(i * per, (i + b) * per), [b, 3, h, w]) };
      const r = await this.vision.run(feeds, ['image_embeds', ...(patchEmbeds ? ['patch_embeds'] : [])]);
      out.set(r.image_embeds!.data as Float32Array, i * E);
      if (patchEmbeds) patchEmbeds.set(r.patch_embeds!.data as Float32Array, i * P * E);
    }
    if (opts.normalize) normalizeRows(out, E);
    return { embeddings: out, patchEmbeds, dim: E };
  }

  async embedRasters(images: Raster[], opts: { normalize?: boolean; batchSize?: number } = {}) {
    return this.embedPixels(this.preprocessRasters(images), images.length, opts);
  }

  /**
   * As ClipModel.embedTexts: batches of 64, each cut to its longest end token (exact under the causal mask) or,
   * for masked encoders, to its longest row.
   */
  async embedTexts(texts: string[], opts: { normalize?: boolean; batchSize?: number } = {}) {
    const spec = this.meta.text;
    const C = spec.contextLength;
    const tokens = this.tokenizer.tokenize(texts, C);
    const E = this.embedDim;
    const out = new Float32Array(texts.length * E);
    const bs = opts.batchSize ?? 64;
    for (let i = 0; i < texts.length; i += bs) {
      const b = Math.min(bs, texts.length - i);
      let len = C;
      if (spec.cutToEnd) {
        len = 1;
        for (let r = i; r < i + b; r++) {
          let best = 0;
          for (let j = 1; j < C; j++) if (tokens[r * C + j]! > tokens[r * C + best]!) best = j;
          len = Math.max(len, best + 1);
        }
      } else if (spec.attentionMask) {
        // the padding columns every row of the batch shares are masked anyway (BERT: CLS pooling)
        len = 1;
        for (let r = i; r < i + b; r++) {
          let last = C - 1;
          while (last > 0 && tokens[r * C + last] === spec.padId) last--;
          len = Math.max(len, last + 1);
        }
      }
      const ids = new BigInt64Array(b * len); // [b, len]
      for (let r = 0; r < b; r++) for (let j = 0; j < len; j++) ids[r * len + j] = BigInt(tokens[(i + r) * C + j]!);
      const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, [b, len]) };
      if (spec.attentionMask) feeds.attention_mask = new ort.Tensor('int64', ids.map((v) => (v === BigInt(spec.padId) ? 0n : 1n)), [b, len]);
      if (spec.tokenTypeIds) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(b * len), [b, len]);
      const res = await this.text.run(feeds);
      out.set(res.text_embeds!.data as Float32Array, i * E);
    }
    if (opts.normalize) normalizeRows(out, E);
    return { embeddings: out, tokens, dim: E };
  }
}
