// The JSON each endpoint returns, built from the same library calls as the CLI command of the same name, so
// that `POST /v1/classify` answers exactly what `clipmed classify --json` prints for the same images.
import {
  buildClassifier, classifyRasters, composeReport, ConfigError, cxrDescriptorPrompts, embedDescriptorPrompts, explainZeroShot, getLabelSet, retrieveTexts, scoringFor,
  type ClipModel, type Explanation, type TextCorpus, type ZeroShotClassifier,
} from '../index.ts';
import type { Failure, InputImage } from './inputs.ts';

export interface ClassifyParams {
  /** comma-separated class names (the CLI's --labels) */
  labels?: string;
  /** a named label set (--label-set) */
  labelSet?: string;
  /** prompt templates with {} (--template, repeatable) */
  templates?: string[];
  /** a named template set (--template-set) */
  templateSet?: string;
  /** CheXzero's positive/negative pairs (--multilabel) */
  multilabel?: boolean;
  /** override the logit scale (--logit-scale) */
  logitScale?: number;
  /** images per forward pass (--batch-size) */
  batchSize?: number;
}

export interface ClassifyJson {
  model: string;
  labels: string[];
  results: Array<{ input: string; scores: Record<string, number> }>;
  failures: Failure[];
}

/** Classifiers (prompt embeddings) by model and prompt options: a repeated request skips the text tower. */
export class ClassifierCache {
  private readonly map = new Map<string, Promise<ZeroShotClassifier>>();
  constructor(private readonly size = 64) {}

  get(model: ClipModel, key: string, build: () => Promise<ZeroShotClassifier>): Promise<ZeroShotClassifier> {
    const k = `${model.source.name}\0${key}`;
    let hit = this.map.get(k);
    if (hit) {
      this.map.delete(k); // most recently used last
      this.map.set(k, hit);
      return hit;
    }
    hit = build();
    hit.catch(() => this.map.delete(k));
    this.map.set(k, hit);
    if (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
    return hit;
  }
}

/**
 * Zero-shot classification as `clipmed classify --json` does it: the labels (or label set) and templates give
 * the classifier, the model's scoring (or CheXzero's pairs) the probabilities, in batches of `batchSize`.
 */
export async function classifyImages(model: ClipModel, images: InputImage[], failures: Failure[], p: ClassifyParams, cache?: ClassifierCache): Promise<ClassifyJson> {
  if (!p.labels && !p.labelSet) throw new ConfigError("give 'labels' (comma-separated) or 'label_set'");
  const wanted = p.labelSet ? [...getLabelSet(p.labelSet)] : (p.labels ?? '').split(',');
  const options = { labels: wanted, templates: p.templates ?? [], templateSet: p.templateSet, multilabel: p.multilabel };
  const build = () => buildClassifier(model, options);
  const classifier = cache ? await cache.get(model, JSON.stringify(options), build) : await build();
  const labels = classifier.labels;
  const scoring = scoringFor(model, Boolean(p.multilabel), p.logitScale);
  const bs = Math.max(1, p.batchSize ?? 8);
  const C = labels.length;
  const results: ClassifyJson['results'] = [];
  for (let i = 0; i < images.length; i += bs) {
    const batch = images.slice(i, i + bs);
    const probs = (await classifyRasters(model, batch.map((b) => b.raster), classifier, scoring, bs)).probs.data;
    batch.forEach((img, r) => results.push({ input: img.source, scores: Object.fromEntries(labels.map((l, j) => [l, probs[r * C + j]!])) }));
  }
  return { model: model.source.name, labels, results, failures };
}

/** Image and text embeddings as `clipmed embed --json` prints them. */
export async function embedImages(model: ClipModel, images: InputImage[], failures: Failure[], texts: string[], normalize: boolean) {
  const E = model.embedDim;
  const rows = (m: Float32Array, n: number) => Array.from({ length: n }, (_, i) => Array.from(m.subarray(i * E, (i + 1) * E)));
  const out: Array<{ path: string; embedding: number[] }> = [];
  if (images.length > 0) {
    const r = await model.embedRasters(images.map((i) => i.raster), { normalize });
    rows(r.embeddings, images.length).forEach((e, i) => out.push({ path: images[i]!.source, embedding: e }));
  }
  const textRows: Array<{ text: string; tokens: number[]; embedding: number[] }> = [];
  if (texts.length > 0) {
    const r = await model.embedTexts(texts, { normalize });
    const C = model.meta.text.contextLength;
    rows(r.embeddings, texts.length).forEach((e, i) => textRows.push({ text: texts[i]!, tokens: Array.from(r.tokens.subarray(i * C, (i + 1) * C)), embedding: e }));
  }
  return { model: model.source.name, images: out, texts: textRows, failures };
}

/** Xplainer's descriptor-based diagnosis as `clipmed explain --json` prints it. */
export async function explainImages(model: ClipModel, images: InputImage[], failures: Failure[], diseases: string[], logitScale?: number) {
  const embedded = await embedDescriptorPrompts(model, cxrDescriptorPrompts(diseases));
  const scale = logitScale ?? model.meta.score.logitScale;
  const img = await model.embedRasters(images.map((i) => i.raster), { normalize: true });
  const results = images.map((im, i) => ({
    input: im.source,
    diagnoses: explainZeroShot(img.embeddings.subarray(i * img.dim, (i + 1) * img.dim), embedded, scale).sort((a: Explanation, b: Explanation) => b.probability - a.probability),
  }));
  return { model: model.source.name, results, failures };
}

/** Retrieval-based reports (CXR-RePaiR) as `clipmed report --json` prints them. */
export async function reportImages(model: ClipModel, images: InputImage[], failures: Failure[], corpus: TextCorpus, corpusName: string, k: number, sentences: boolean) {
  const e = await model.embedRasters(images.map((i) => i.raster), { normalize: true });
  const results = images.map((img, i) => {
    const v = e.embeddings.subarray(i * e.dim, (i + 1) * e.dim);
    if (sentences) {
      const r = composeReport(v, corpus, k);
      return { input: img.source, report: r.report, retrieved: r.sentences.map(({ text, score }) => ({ text, score })) };
    }
    return { input: img.source, retrieved: retrieveTexts(v, corpus, k).map(({ text, score }) => ({ text, score })) };
  });
  return { model: model.source.name, corpus: corpusName, results, failures };
}
