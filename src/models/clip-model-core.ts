// A loaded CLIP model as the core sees it: its metadata, its tokenizer and two sessions (image and text graphs)
// behind the Session interface, with no file or platform access. Embeddings are the projected features as
// open_clip's encode_image / encode_text return them. The Node side (src/node/clip-model.ts) extends it with
// loading from names, folders and the hub, the graph cache and image files; a browser makes one from bytes
// with `ClipModelCore.fromGraphs` (graphs from `compileFromBytes`, a backend such as onnxruntime-web).
import { ConfigError, ShapeError } from '../errors.ts';
import { preprocess, type PreprocessConfig } from '../image/preprocess.ts';
import { getProtocol, runProtocolBatch } from '../image/protocol.ts';
import type { Raster } from '../image/types.ts';
import type { Backend, Session } from '../runtime/session.ts';
import type { ScoreSpec, TextSpec, TextTokenizer } from './family.ts';
import type { PretrainedSpec } from './pretrained.ts';
import type { ModelSpec } from './spec.ts';

/** What embedding needs to know about a model (the Node side's ModelMeta holds more). */
export interface CoreMeta {
  embedDim: number;
  patchTokens: { grid: number; width: number };
  preprocess: PreprocessConfig;
  text: TextSpec;
  score: ScoreSpec;
  spec?: ModelSpec;
}

export interface EmbedOptions {
  normalize?: boolean;
  batchSize?: number;
  /** texts: also return the text graph's `word_embeds` (GLoRIA's word slots; see TextEmbeddings) */
  wordEmbeds?: boolean;
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
  /** [n, contextLength, embedDim], when asked for: the word slots a batch was cut short of are zeros (never normalised) */
  wordEmbeds?: Float32Array;
  dim: number;
}

/** How a model turns 8-bit rasters into its input: its transform, or a published protocol instead, and its name for messages. */
export interface ImageInputSpec {
  preprocess: PreprocessConfig;
  protocol?: string;
  name: string;
}

/**
 * The model input for 8-bit rasters, [n, 3, H, W], as `ClipModelCore.preprocessRasters` makes it (the same
 * function, so that a worker thread given `model.imageInput` makes the same floats).
 */
export function preprocessForModel(images: Raster[], spec: ImageInputSpec): Float32Array {
  if (!spec.protocol) return preprocess(images, spec.preprocess);
  const out = runProtocolBatch(images, getProtocol(spec.protocol));
  const s = spec.preprocess.size;
  const [h, w] = typeof s === 'number' ? [s, s] : s;
  if (out.length !== images.length * 3 * h * w) {
    const side = Math.round(Math.sqrt(out.length / images.length / 3));
    throw new ConfigError(`protocol '${spec.protocol}' makes ${side}x${side} images but ${spec.name} takes ${w}x${h}`);
  }
  return out;
}

/** Model inputs made ahead of time (by the decode pool's worker threads), kept with their raster while it lives. */
const prepared = new WeakMap<Raster, { key: string; pixels: Float32Array }>();
const inputKey = (spec: ImageInputSpec): string => JSON.stringify([spec.preprocess, spec.protocol ?? null]);

/**
 * Give a raster its model input [3, H, W], made with `preprocessForModel([raster], spec)` elsewhere (a worker
 * thread); `preprocessRasters` of a model with the same transform then takes it instead of making it again.
 */
export function attachModelInput(raster: Raster, spec: ImageInputSpec, pixels: Float32Array): void {
  prepared.set(raster, { key: inputKey(spec), pixels });
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

export interface CoreOptions {
  /** a name for messages */
  name: string;
  /** a published preprocessing protocol instead of the checkpoint's own transform */
  protocol?: string;
  /** serialised graphs and the backend that runs them (fromGraphs) */
  graphs?: { vision: Uint8Array; text: Uint8Array };
  backend?: Backend;
  threads?: number;
}

/**
 * A tokenizer made on its first use, so that work on images alone never reads a vocabulary (CLIP BPE's tables
 * hold about 40 MiB). A tokenizer that fails to load fails each `tokenize` with the same error.
 * @example const t = new LazyTokenizer(() => loadTokenizerSync(spec, src)); t.loaded // false; t.tokenize(['lung'], 77); t.loaded // true
 */
export class LazyTokenizer implements TextTokenizer {
  private made?: TextTokenizer;
  constructor(private readonly make: () => TextTokenizer) {}

  get loaded(): boolean {
    return this.made !== undefined;
  }

  tokenize(texts: string[], contextLength: number): Int32Array {
    return (this.made ??= this.make()).tokenize(texts, contextLength);
  }
}

export class ClipModelCore {
  private visionSession?: Promise<Session>;
  private textSession?: Promise<Session>;

  /** the registry entry when the model was named by its registered name (or is a registered manual download) */
  pretrained?: PretrainedSpec;

  constructor(
    private readonly coreMeta: CoreMeta,
    readonly tokenizer: TextTokenizer,
    protected readonly core: CoreOptions,
  ) {
    if (core.protocol) getProtocol(core.protocol); // an unknown name fails before any work
  }

  /**
   * A model from its spec and serialised graphs, run by `backend` (no files, no platform).
   * @example const { spec, vision, text } = compileFromBytes({ files }); const m = ClipModelCore.fromGraphs({ spec, vision, text, tokenizer: await tokenizerFromFiles(spec.tokenizer, memoryFiles('m', files)), backend: webBackend('wasm') });
   */
  static fromGraphs(o: { spec: ModelSpec; vision: Uint8Array; text: Uint8Array; tokenizer: TextTokenizer; backend: Backend; threads?: number; protocol?: string; name?: string }): ClipModelCore {
    const { spec } = o;
    const meta: CoreMeta = { embedDim: spec.embedDim, patchTokens: spec.patchTokens, preprocess: spec.preprocess, text: spec.tokenizer, score: spec.scoring, spec };
    return new ClipModelCore(meta, o.tokenizer, { name: o.name ?? 'model', protocol: o.protocol, graphs: { vision: o.vision, text: o.text }, backend: o.backend, threads: o.threads });
  }

  get meta(): CoreMeta {
    return this.coreMeta;
  }

  get embedDim(): number {
    return this.meta.embedDim;
  }

  /**
   * What the model has loaded so far: each graph's session starts on its first use and a LazyTokenizer on the first
   * `tokenize`, so embedding images loads neither the tokenizer nor the text graph.
   * @example await m.embedPixels(pixels, 1); m.loaded // { tokenizer: false, vision: true, text: false }
   */
  get loaded(): { tokenizer: boolean; vision: boolean; text: boolean } {
    const t = this.tokenizer;
    return { tokenizer: !(t instanceof LazyTokenizer) || t.loaded, vision: this.visionSession !== undefined, text: this.textSession !== undefined };
  }

  /** Start the session of one graph (the Node side opens cached files through its backends). */
  protected openSession(which: 'vision' | 'text'): Promise<Session> {
    const { graphs, backend, threads } = this.core;
    if (!graphs || !backend) throw new ConfigError(`${this.core.name}: no graphs and backend to run them`);
    return backend.create(graphs[which], { threads });
  }

  private session(which: 'vision' | 'text'): Promise<Session> {
    if (which === 'vision') return (this.visionSession ??= this.openSession('vision'));
    return (this.textSession ??= this.openSession('text'));
  }

  /** open_clip token ids, [n, contextLength]. */
  tokenize(texts: string[]): Int32Array {
    return this.tokenizer.tokenize(texts, this.meta.text.contextLength);
  }

  /** Embed preprocessed pixels [n, 3, H, W]. */
  async embedPixels(pixels: Float32Array, n: number, opts: ImageEmbedOptions = {}): Promise<ImageEmbeddings> {
    return this.runVision(await this.session('vision'), [{ input: 'pixel_values', label: 'pixel values', data: pixels }], n, opts);
  }

  /**
   * Run an image graph over n images in batches: each input holds [n, 3, H, W] preprocessed pixels (BioViL-T's
   * graph with a prior image takes two), each named by `label` in a size error.
   */
  async runVision(session: Session, inputs: Array<{ input: string; label: string; data: Float32Array }>, n: number, opts: ImageEmbedOptions = {}): Promise<ImageEmbeddings> {
    const s = this.meta.preprocess.size;
    const [h, w] = typeof s === 'number' ? [s, s] : s;
    const per = 3 * h * w;
    for (const { label, data } of inputs) {
      if (data.length !== n * per) throw new ShapeError(`${label}: expected ${n}x3x${h}x${w} = ${n * per} floats, got ${data.length}`);
    }
    const E = this.embedDim;
    const P = this.meta.patchTokens.grid ** 2;
    const W = this.meta.patchTokens.width;
    const out = new Float32Array(n * E);
    const tokens = opts.patchTokens ? new Float32Array(n * P * W) : undefined;
    const patchEmbeds = opts.patchEmbeds ? new Float32Array(n * P * E) : undefined;
    const bs = opts.batchSize ?? 8;
    const outputs = ['image_embeds', ...(tokens ? ['patch_tokens'] : []), ...(patchEmbeds ? ['patch_embeds'] : [])];
    for (let i = 0; i < n; i += bs) {
      const b = Math.min(bs, n - i);
      const feeds = Object.fromEntries(inputs.map(({ input, data }) => [input, { data: data.subarray(i * per, (i + b) * per), dims: [b, 3, h, w] }]));
      const r = await session.run(feeds, outputs);
      out.set(r.image_embeds!.data, i * E);
      if (tokens) tokens.set(r.patch_tokens!.data, i * P * W);
      if (patchEmbeds) patchEmbeds.set(r.patch_embeds!.data, i * P * E);
    }
    if (opts.normalize) normalizeRows(out, E);
    return { embeddings: out, patchTokens: tokens, patchEmbeds, dim: E };
  }

  /** What turns an 8-bit raster into this model's input (plain data: it can be sent to a worker thread). */
  get imageInput(): ImageInputSpec {
    return { preprocess: this.meta.preprocess, protocol: this.core.protocol, name: this.core.name };
  }

  /** The model input for 8-bit rasters, [n, 3, H, W]: the checkpoint's transform, or the chosen protocol. */
  preprocessRasters(images: Raster[]): Float32Array {
    const spec = this.imageInput;
    const key = inputKey(spec);
    const ready = images.map((r) => prepared.get(r));
    if (images.length > 0 && ready.every((p) => p?.key === key && p.pixels.length === ready[0]!.pixels.length)) {
      const per = ready[0]!.pixels.length;
      const out = new Float32Array(images.length * per);
      ready.forEach((p, i) => out.set(p!.pixels, i * per));
      return out;
    }
    return preprocessForModel(images, spec);
  }

  async embedRasters(images: Raster[], opts: ImageEmbedOptions = {}): Promise<ImageEmbeddings> {
    return this.embedPixels(this.preprocessRasters(images), images.length, opts);
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
    const words = opts.wordEmbeds ? new Float32Array(texts.length * C * E) : undefined; // [n, C, E]
    const bs = opts.batchSize ?? 64;
    const session = await this.session('text');
    // padding: 'longest' (MedCLIP): every row padded to the longest text of this call, whatever the batches
    const callLength = spec.padding === 'longest' ? longestRow(tokens, texts.length, C, spec.padId) : undefined;
    for (let i = 0; i < texts.length; i += bs) {
      const b = Math.min(bs, texts.length - i);
      let len = C;
      if (callLength !== undefined) {
        len = callLength;
      } else if (spec.cutToEnd) {
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
      if (words) {
        const w = res.word_embeds;
        if (!w) throw new ConfigError(`${this.core.name}: the text graph has no word_embeds output`);
        for (let r = 0; r < b; r++) words.set(w.data.subarray(r * len * E, (r + 1) * len * E), (i + r) * C * E); // [len, E] into [C, E]
      }
    }
    if (opts.normalize) normalizeRows(out, E);
    return { embeddings: out, tokens, wordEmbeds: words, dim: E };
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

/** The length of the longest of `rows` rows of ids [rows, C] once trailing `padId`s are cut (transformers' padding=True). */
function longestRow(ids: Int32Array, rows: number, C: number, padId: number): number {
  let len = 1;
  for (let r = 0; r < rows; r++) {
    let last = C - 1;
    while (last > 0 && ids[r * C + last] === padId) last--;
    len = Math.max(len, last + 1);
  }
  return len;
}

function argmax(a: Int32Array, start: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[start + j]! > a[start + best]!) best = j;
  return best;
}
