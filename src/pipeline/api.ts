// Task pipelines in the style users know from transformers.js (`pipeline(task, model)` returns a function):
//
//   const classify = await pipeline('zero-shot-image-classification', 'biomedclip');
//   await classify('chest.jpg', ['normal', 'pneumonia']); // [{ label: 'pneumonia', score: 0.91 }, { label: 'normal', score: 0.09 }]
//
// Images may be paths, URLs (http(s), file:), Uint8Array/Buffer/ArrayBuffer bytes, Blobs, or decoded rasters.
// Scoring and prompt templates are the model's registry defaults unless the call gives its own.
import { ConfigError } from '../errors.ts';
import type { Raster } from '../image/types.ts';
import type { ClipModelCore as ClipModel } from '../models/clip-model-core.ts';
import type { LoadOptions } from '../node/clip-model.ts';
import { fromFlat } from '../tasks/matrix.ts';
import { similarityMatrix, topK } from '../tasks/retrieval.ts';
import { getPlatform } from './platform.ts';
import { buildClassifier, classifyRasters, scoringForClassifier, type PromptOptions } from './zero-shot.ts';

export type ImageInput = string | URL | Uint8Array | ArrayBuffer | Blob | Raster;

/** A dense result, as transformers.js's Tensor carries it: row-major data and its dims. */
export interface FeatureTensor {
  data: Float32Array;
  dims: number[];
}

export interface ClassificationOptions extends Omit<PromptOptions, 'labels'> {
  /** transformers.js's name for one template with "{}" for the label */
  hypothesis_template?: string;
  /** override the logit scale */
  logitScale?: number;
}

export interface FeatureOptions {
  /** L2-normalise each embedding (default false, as transformers.js) */
  normalize?: boolean;
}

export interface RetrievalOptions {
  /** how many hits to return (default: all, best first) */
  topK?: number;
}

interface Pipe {
  readonly task: string;
  readonly model: ClipModel;
  dispose(): Promise<void>;
}

export type ZeroShotImageClassificationPipeline = Pipe & {
  (image: ImageInput, labels: string[], options?: ClassificationOptions): Promise<Array<{ label: string; score: number }>>;
  (images: ImageInput[], labels: string[], options?: ClassificationOptions): Promise<Array<Array<{ label: string; score: number }>>>;
};
export type ImageFeatureExtractionPipeline = Pipe & ((images: ImageInput | ImageInput[], options?: FeatureOptions) => Promise<FeatureTensor>);
export type FeatureExtractionPipeline = Pipe & ((texts: string | string[], options?: FeatureOptions) => Promise<FeatureTensor>);
/** Rank images by a text query (cosine similarity of normalised embeddings), best first. */
export type ImageRetrievalPipeline = Pipe & ((query: string, images: ImageInput[], options?: RetrievalOptions) => Promise<Array<{ index: number; score: number }>>);

export interface PipelineTasks {
  'zero-shot-image-classification': ZeroShotImageClassificationPipeline;
  'image-feature-extraction': ImageFeatureExtractionPipeline;
  'feature-extraction': FeatureExtractionPipeline;
  'zero-shot-image-retrieval': ImageRetrievalPipeline;
}
export type PipelineTask = keyof PipelineTasks;
export const PIPELINE_TASKS: PipelineTask[] = ['zero-shot-image-classification', 'image-feature-extraction', 'feature-extraction', 'zero-shot-image-retrieval'];

function isRaster(x: unknown): x is Raster {
  return typeof x === 'object' && x !== null && 'data' in x && 'width' in x && 'height' in x && 'channels' in x && (x as Raster).data instanceof Uint8Array;
}

/** One input to an 8-bit raster through the platform (read, then decode). */
export async function toRaster(input: ImageInput, index = 0): Promise<Raster> {
  if (isRaster(input)) return input;
  const p = getPlatform();
  if (typeof input === 'string' || input instanceof URL) return p.decodeImage(await p.readBytes(input), String(input));
  if (input instanceof Uint8Array) return p.decodeImage(input, `image ${index}`);
  if (input instanceof ArrayBuffer) return p.decodeImage(new Uint8Array(input), `image ${index}`);
  if (typeof Blob !== 'undefined' && input instanceof Blob) return p.decodeImage(new Uint8Array(await input.arrayBuffer()), (input as File).name ?? `image ${index}`);
  throw new ConfigError(`image ${index}: expected a path, URL, bytes, Blob or raster, got ${Object.prototype.toString.call(input)}`);
}

function pipe<F extends (...args: never[]) => unknown>(task: string, model: ClipModel, f: F): F & Pipe {
  return Object.assign(f, { task, model, dispose: () => model.release() });
}

/**
 * A task pipeline over a model (a registered name, `hf-hub:ORG/NAME`, a folder or a state dict).
 * @example const embed = await pipeline('feature-extraction', 'biomedclip'); (await embed(['lung'])).dims // [1, 512]
 */
export async function pipeline<T extends PipelineTask>(task: T, model: string | ClipModel, options: LoadOptions = {}): Promise<PipelineTasks[T]> {
  if (!PIPELINE_TASKS.includes(task)) throw new ConfigError(`unknown pipeline task '${String(task)}'; expected one of ${PIPELINE_TASKS.join(', ')}`);
  const m = typeof model === 'string' ? await getPlatform().loadModel(model, options) : model;
  const embedImages = async (images: ImageInput[], normalize: boolean) => {
    const rasters = await Promise.all(images.map((x, i) => toRaster(x, i)));
    return m.embedRasters(rasters, { normalize });
  };
  switch (task) {
    case 'zero-shot-image-classification': {
      const f = async (images: ImageInput | ImageInput[], labels: string[], o: ClassificationOptions = {}) => {
        const list = Array.isArray(images) ? images : [images];
        const templates = o.templates ?? (o.hypothesis_template ? [o.hypothesis_template] : undefined);
        const classifier = await buildClassifier(m, { ...o, templates, labels });
        // classifyRasters: the model's own scoring, GLoRIA's global + local one included
        const r = await classifyRasters(m, await Promise.all(list.map((x, i) => toRaster(x, i))), classifier, scoringForClassifier(m, classifier, o.logitScale));
        const C = classifier.labels.length;
        const rows = list.map((_, i) =>
          classifier.labels.map((label, c) => ({ label, score: r.probs.data[i * C + c]! })).sort((a, b) => b.score - a.score),
        );
        return Array.isArray(images) ? rows : rows[0]!;
      };
      return pipe(task, m, f) as unknown as PipelineTasks[T];
    }
    case 'image-feature-extraction': {
      const f = async (images: ImageInput | ImageInput[], o: FeatureOptions = {}) => {
        const list = Array.isArray(images) ? images : [images];
        const e = await embedImages(list, Boolean(o.normalize));
        return { data: e.embeddings, dims: [list.length, e.dim] };
      };
      return pipe(task, m, f) as unknown as PipelineTasks[T];
    }
    case 'feature-extraction': {
      const f = async (texts: string | string[], o: FeatureOptions = {}) => {
        const list = Array.isArray(texts) ? texts : [texts];
        const e = await m.embedTexts(list, { normalize: Boolean(o.normalize) });
        return { data: e.embeddings, dims: [list.length, e.dim] };
      };
      return pipe(task, m, f) as unknown as PipelineTasks[T];
    }
    case 'zero-shot-image-retrieval': {
      const f = async (query: string, images: ImageInput[], o: RetrievalOptions = {}) => {
        if (images.length === 0) throw new ConfigError('retrieval: no images to rank');
        const q = await m.embedTexts([query], { normalize: true });
        const e = await embedImages(images, true);
        const sim = similarityMatrix(fromFlat(q.embeddings, q.dim, 'query'), fromFlat(e.embeddings, e.dim, 'image embeddings'));
        return topK(sim.data, o.topK ?? images.length);
      };
      return pipe(task, m, f) as unknown as PipelineTasks[T];
    }
  }
  throw new ConfigError(`unknown pipeline task '${String(task)}'`);
}
