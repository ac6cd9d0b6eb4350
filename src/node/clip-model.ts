// A CLIP model loaded on Node: from a registered name, the hub, a folder or a state dict, compiled through the
// graph cache, run by a backend chosen by device; the embedding itself is the core's (src/models/clip-model-core.ts).
import { decodeImageFile } from './image-decode.ts';
import { getProtocol } from '../image/protocol.ts';
import { ClipModelCore, LazyTokenizer, type EmbedOptions, type ImageEmbeddings } from '../models/clip-model-core.ts';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import './ort-backend.ts';
import { loadTokenizerSync } from './tokenizer-files.ts';
import { parseDevice, resolveBackend, type Device } from '../runtime/backends.ts';
import { webBackend } from '../runtime/web-backend.ts';
import type { Backend, Session } from '../runtime/session.ts';
import type { OpenAIOverrides } from '../models/clip-config.ts';
import { compileModel, modelSpecFor, type CompiledModel, type ModelMeta } from './compile.ts';
import { mapLimit } from './map-limit.ts';
import { halfComputeGraphs, parseDType, quantizedGraphs, type DType } from './quantized.ts';
import type { TextSpec, TextTokenizer } from '../models/family.ts';
import type { ModelSpec } from '../models/spec.ts';
import { loadTokenizer } from '../models/tokenizers.ts';
import type { ResolvedSource } from './source.ts';
import { resolveModelSource } from './resolve.ts';
import type { HubProgress } from './hub/settings.ts';

export interface LoadOptions {
  /** intra-op threads (default: all cores) */
  threads?: number;
  /** where the graphs run: 'cpu' (default), 'webgpu', 'cuda', or 'wasm' (onnxruntime-web); see src/runtime/backends.ts */
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
  /** weights: 'fp32' (default), 'fp16' (half-size weights; on 'webgpu' and 'cuda' also half-precision compute), 'int8' (dynamic activation quantisation) or 'q4' (4-bit weights); quantised graphs are made once and cached */
  dtype?: DType;
}

export { normalizeRows, type EmbedOptions, type ImageEmbedOptions, type ImageEmbeddings, type TextEmbeddings } from '../models/clip-model-core.ts';

export class ClipModel extends ClipModelCore {
  private constructor(
    readonly source: ResolvedSource,
    readonly compiled: CompiledModel,
    tokenizer: TextTokenizer,
    private readonly options: LoadOptions,
  ) {
    super(compiled.meta, tokenizer, { name: source.name, protocol: options.protocol });
  }

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
      // on GPU devices fp16 computes in half precision (src/graph/half.ts); elsewhere it is half-size weights cast to fp32
      const gpu = options.device === 'webgpu' || options.device === 'cuda';
      const q = dtype === 'fp16' && gpu && !options.backend
        ? await halfComputeGraphs(compiled.visionPath, compiled.textPath, options.log)
        : await quantizedGraphs(compiled.visionPath, compiled.textPath, dtype, options.log);
      compiled = { ...compiled, visionPath: q.visionPath, textPath: q.textPath, cached: compiled.cached && q.cached };
    }
    // made on the first tokenize or embedTexts: images alone never read the vocabulary
    const tokenizer = new LazyTokenizer(() => loadTokenizerSync(compiled.meta.text, src));
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

  override get meta(): ModelMeta {
    return this.compiled.meta;
  }

  protected override openSession(which: 'vision' | 'text'): Promise<Session> {
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
    return open();
  }

  /** Decode image files (JPEG, PNG, TIFF, ...) and embed them. */
  async embedImageFiles(paths: string[], opts: EmbedOptions = {}): Promise<ImageEmbeddings> {
    const rasters = await mapLimit(paths, 4, (p) => decodeImageFile(p)); // not all at once: each decode holds its file and buffers
    return this.embedRasters(rasters, opts);
  }
}
