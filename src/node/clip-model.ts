// A loaded CLIP model: tokenizer, preprocessing and the two compiled towers behind the Session interface.
// Embeddings are the projected features as open_clip's encode_image / encode_text return them.
import { ConfigError, ShapeError } from '../errors.ts';
import { decodeImageFile } from '../image/decode.ts';
import { preprocess } from '../image/preprocess.ts';
import { getProtocol, runProtocolBatch } from '../image/protocol.ts';
import type { Raster } from '../image/types.ts';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import './ort-backend.ts';
import { parseDevice, resolveBackend, type Device } from '../runtime/backends.ts';
import { webBackend } from '../runtime/web-backend.ts';
import type { Backend, Session } from '../runtime/session.ts';
import type { OpenAIOverrides } from '../models/clip-config.ts';
import { compileModel, modelSpecFor, type CompiledModel, type ModelMeta } from './compile.ts';
import { mapLimit } from './map-limit.ts';
import { parseDType, quantizedGraphs, type DType } from './quantized.ts';
import type { TextSpec, TextTokenizer } from '../models/family.ts';
import type { ModelSpec } from '../models/spec.ts';
import type { PretrainedSpec } from '../models/pretrained.ts';
import { loadTokenizer } from '../models/tokenizers.ts';
import type { ResolvedSource } from './source.ts';
import { resolveModelSource } from './resolve.ts';
import type { HubProgress } from '../hub/settings.ts';

export interface LoadOptions {
  /** intra-op threads (default: all cores) */
  threads?: number;
  /** where the graphs run: 'cpu' (default), 'webgpu', or 'wasm' (onnxruntime-web); see src/runtime/backends.ts */
  device?: Device;
  /** a backend object, instead of one chosen by `device` */
  backend?: Backend;
  /** for OpenAI-format state dicts: what shapes cannot tell */
  overrides?: OpenAIOverrides;
  /** progress and conversion messages */
  log?: (message: string) => void;
  /** a published preprocessing protocol to use instead of the checkpoint's own (e.g. 'chexzero') */
  protocol?: string;
  /** download progress for hub sources */
  onProgress?: (p: HubProgress) => void;
  /** weights: 'fp32' (default), 'fp16', 'int8' (dynamic activation quantisation) or 'q4' (4-bit weights); quantised graphs are made once and cached */
  dtype?: DType;
}

export interface EmbedOptions {
  normalize?: boolean;
  batchSize?: number;
}

export interface ImageEmbedOptions extends EmbedOptions {
  /** also return the patch tokens (after the final norm) */
  patchTokens?: boolean;
  /** also return the patch tokens projected into the joint embedding space (for heatmaps) */
  patchEmbeds?: boolean;
}

export interface ImageEmbeddings {
  /** [n, embedDim] */
  embeddings: Float32Array;
  /** [n, grid*grid, width], when asked for */
  patchTokens?: Float32Array;
  /** [n, grid*grid, embedDim]: patch tokens projected into the joint space, when asked for */
  patchEmbeds?: Float32Array;
  dim: number;
}

export interface TextEmbeddings {
  /** [n, embedDim] */
  embeddings: Float32Array;
  /** [n, contextLength] */
  tokens: Int32Array;
  dim: number;
}

/** L2-normalise each row of a [rows, dim] matrix in place. */
export function normalizeRows(m: Float32Array, dim: number): Float32Array {
  for (let r = 0; r < m.length / dim; r++) {
    let s = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) s += m[i]! * m[i]!;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let i = r * dim; i < (r + 1) * dim; i++) m[i]! *= inv;
  }
  return m;
}

export class ClipModel {
  private visionSession?: Promise<Session>;
  private textSession?: Promise<Session>;

  /** the registry entry when the model was named by its registered name (or is a registered manual download) */
  pretrained?: PretrainedSpec;

  private constructor(
    readonly source: ResolvedSource,
    readonly compiled: CompiledModel,
    readonly tokenizer: TextTokenizer,
    private readonly options: LoadOptions,
  ) {}

  /**
   * Load a model: a registered name, `hf-hub:ORG/NAME[@REV]` (downloaded into the huggingface_hub cache),
   * or a local folder (open_clip or transformers layout) or OpenAI-format state dict.
   * @example const m = await ClipModel.load('../shared/fixtures/open_clip/tiny-quickgelu'); m.embedDim // 32
   */
  static async load(source: string, options: LoadOptions = {}): Promise<ClipModel> {
    if (options.protocol) getProtocol(options.protocol); // an unknown name fails before any work
    if (options.device) parseDevice(options.device);
    if (options.dtype) parseDType(options.dtype);
    const { source: src, spec } = await resolveModelSource(source, { onProgress: options.onProgress, log: options.log });
    // a registered model brings its authors' preprocessing protocol unless the caller chose one
    if (!options.protocol && spec?.preprocess) options = { ...options, protocol: spec.preprocess.protocol };
    let compiled = await compileModel(src, options.overrides, options.log);
    const dtype = options.dtype ? parseDType(options.dtype) : 'fp32';
    if (dtype !== 'fp32') {
      const q = await quantizedGraphs(compiled.visionPath, compiled.textPath, dtype, options.log);
      compiled = { ...compiled, visionPath: q.visionPath, textPath: q.textPath, cached: compiled.cached && q.cached };
    }
    const tokenizer = await loadTokenizer(compiled.meta.text, src);
    const model = new ClipModel(src, compiled, tokenizer, options);
    model.pretrained = spec;
    return model;
  }

  /**
   * Only the tokenizer of a model (no graphs built), with the text spec it follows.
   * @example const { tokenizer, text } = await ClipModel.loadTokenizer('biomedclip'); tokenizer.tokenize(['lung'], text.contextLength)
   */
  static async loadTokenizer(source: string, options: Pick<LoadOptions, 'overrides' | 'log' | 'onProgress'> = {}): Promise<{ tokenizer: TextTokenizer; text: TextSpec; spec: ModelSpec }> {
    const { source: src } = await resolveModelSource(source, { onProgress: options.onProgress, log: options.log });
    const spec = await modelSpecFor(src, options.overrides);
    return { tokenizer: await loadTokenizer(spec.tokenizer, src), text: spec.tokenizer, spec };
  }

  get meta(): ModelMeta {
    return this.compiled.meta;
  }

  get embedDim(): number {
    return this.meta.embedDim;
  }

  private session(which: 'vision' | 'text'): Promise<Session> {
    const path = which === 'vision' ? this.compiled.visionPath : this.compiled.textPath;
    const open = async (): Promise<Session> => {
      const device = this.options.device ?? 'cpu';
      if (!this.options.backend && device === 'wasm') {
        // onnxruntime-web reads no files: the model and its external weights go in as bytes
        // (quantised graphs hold their weights inside the model file)
        const [model, data] = await Promise.all([readFile(path), readFile(`${path}.data`).catch(() => undefined)]);
        return webBackend('wasm', data ? [{ path: `${basename(path)}.data`, data: new Uint8Array(data) }] : []).create(new Uint8Array(model), { threads: this.options.threads });
      }
      return (this.options.backend ?? resolveBackend(device)).create(path, { threads: this.options.threads });
    };
    if (which === 'vision') return (this.visionSession ??= open());
    return (this.textSession ??= open());
  }

  /** open_clip token ids, [n, contextLength]. */
  tokenize(texts: string[]): Int32Array {
    return this.tokenizer.tokenize(texts, this.meta.text.contextLength);
  }

  /** Embed preprocessed pixels [n, 3, H, W]. */
  async embedPixels(pixels: Float32Array, n: number, opts: ImageEmbedOptions = {}): Promise<ImageEmbeddings> {
    const s = this.meta.preprocess.size;
    const [h, w] = typeof s === 'number' ? [s, s] : s;
    const per = 3 * h * w;
    if (pixels.length !== n * per) throw new ShapeError(`pixel values: expected ${n}x3x${h}x${w} = ${n * per} floats, got ${pixels.length}`);
    const E = this.embedDim;
    const P = this.meta.patchTokens.grid ** 2;
    const W = this.meta.patchTokens.width;
    const out = new Float32Array(n * E);
    const tokens = opts.patchTokens ? new Float32Array(n * P * W) : undefined;
    const patchEmbeds = opts.patchEmbeds ? new Float32Array(n * P * E) : undefined;
    const bs = opts.batchSize ?? 8;
    const session = await this.session('vision');
    for (let i = 0; i < n; i += bs) {
      const b = Math.min(bs, n - i);
      const outputs = ['image_embeds', ...(tokens ? ['patch_tokens'] : []), ...(patchEmbeds ? ['patch_embeds'] : [])];
      const r = await session.run({ pixel_values: { data: pixels.subarray(i * per, (i + b) * per), dims: [b, 3, h, w] } }, outputs);
      out.set(r.image_embeds!.data, i * E);
      if (tokens) tokens.set(r.patch_tokens!.data, i * P * W);
      if (patchEmbeds) patchEmbeds.set(r.patch_embeds!.data, i * P * E);
    }
    if (opts.normalize) normalizeRows(out, E);
    return { embeddings: out, patchTokens: tokens, patchEmbeds, dim: E };
  }

  /** Preprocess 8-bit rasters as the model's reference transform does, then embed. */
  /** The model input for 8-bit rasters, [n, 3, H, W]: the checkpoint's transform, or the chosen protocol. */
  preprocessRasters(images: Raster[]): Float32Array {
    if (!this.options.protocol) return preprocess(images, this.meta.preprocess);
    const out = runProtocolBatch(images, getProtocol(this.options.protocol));
    const s = this.meta.preprocess.size;
    const [h, w] = typeof s === 'number' ? [s, s] : s;
    if (out.length !== images.length * 3 * h * w) {
      const side = Math.round(Math.sqrt(out.length / images.length / 3));
      throw new ConfigError(`protocol '${this.options.protocol}' makes ${side}x${side} images but ${this.source.name} takes ${w}x${h}`);
    }
    return out;
  }

  async embedRasters(images: Raster[], opts: ImageEmbedOptions = {}): Promise<ImageEmbeddings> {
    return this.embedPixels(this.preprocessRasters(images), images.length, opts);
  }

  /** Decode image files (JPEG, PNG, TIFF, ...) and embed them. */
  async embedImageFiles(paths: string[], opts: EmbedOptions = {}): Promise<ImageEmbeddings> {
    const rasters = await mapLimit(paths, 4, (p) => decodeImageFile(p)); // not all at once: each decode holds its file and buffers
    return this.embedRasters(rasters, opts);
  }

  /**
   * Embed texts. Each batch is cut to its longest end token: exact, because with a causal mask the
   * positions after the end token cannot change its features, and short prompts skip most of the 77.
   */
  async embedTexts(texts: string[], opts: EmbedOptions = {}): Promise<TextEmbeddings> {
    if (texts.length === 0) throw new ConfigError('no texts to embed');
    const spec = this.meta.text;
    const C = spec.contextLength;
    const tokens = this.tokenize(texts);
    const E = this.embedDim;
    const out = new Float32Array(texts.length * E);
    const bs = opts.batchSize ?? 64;
    const session = await this.session('text');
    for (let i = 0; i < texts.length; i += bs) {
      const b = Math.min(bs, texts.length - i);
      let len = C;
      if (spec.cutToEnd) {
        len = 1;
        for (let r = i; r < i + b; r++) len = Math.max(len, argmax(tokens, r * C, C) + 1);
      } else if (spec.attentionMask) {
        // padding is masked out as attention keys, so dropping the padding columns that every row of the
        // batch shares changes nothing (BERT: absolute positions, CLS pooling)
        len = 1;
        for (let r = i; r < i + b; r++) {
          let last = C - 1;
          while (last > 0 && tokens[r * C + last] === spec.padId) last--;
          len = Math.max(len, last + 1);
        }
      }
      const ids = new BigInt64Array(b * len); // [b, len]
      for (let r = 0; r < b; r++) for (let j = 0; j < len; j++) ids[r * len + j] = BigInt(tokens[(i + r) * C + j]!);
      const feeds: Record<string, { data: BigInt64Array; dims: number[] }> = { input_ids: { data: ids, dims: [b, len] } };
      if (spec.attentionMask) feeds.attention_mask = { data: ids.map((v) => (v === BigInt(spec.padId) ? 0n : 1n)), dims: [b, len] };
      if (spec.tokenTypeIds) feeds.token_type_ids = { data: new BigInt64Array(b * len), dims: [b, len] };
      const res = await session.run(feeds);
      out.set(res.text_embeds!.data, i * E);
    }
    if (opts.normalize) normalizeRows(out, E);
    return { embeddings: out, tokens, dim: E };
  }

  async release(): Promise<void> {
    for (const s of [this.visionSession, this.textSession]) {
      // a session that failed to start (e.g. no WebGPU adapter) has nothing to release
      const session = await s?.catch(() => undefined);
      if (session) await session.release();
    }
    this.visionSession = this.textSession = undefined;
  }
}

function argmax(a: Int32Array, start: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[start + j]! > a[start + best]!) best = j;
  return best;
}
