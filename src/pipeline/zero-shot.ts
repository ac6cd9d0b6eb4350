// Zero-shot classification with a loaded model: embed each class's prompts, build the classifier
// (src/tasks/zero-shot.ts), embed the images, score them the way the model's spec says.
import type { Raster } from '../image/types.ts';
import type { ClipModelCore as ClipModel } from '../models/clip-model-core.ts';
import { fromFlat, type Matrix } from '../tasks/matrix.ts';
import { getTemplateSet, buildPrompts, type TemplateSet } from '../tasks/templates.ts';
import { buildZeroShotClassifier, classifyZeroShot, type Scoring, type ZeroShotClassifier, type ZeroShotResult } from '../tasks/zero-shot.ts';
import { ConfigError } from '../errors.ts';
import { buildGlobalLocalClassifier, classifyRastersGlobalLocal } from './global-local.ts';

export interface PromptOptions {
  labels: string[];
  /** templates with "{}" for the label; default: the named set, else the generic medical set */
  templates?: string[];
  /** a template set from src/tasks/templates.ts */
  templateSet?: string;
  /** CheXzero's positive/negative pair: per label, softmax over "{label}" and "no {label}" */
  multilabel?: boolean;
}

/**
 * What a registered model's entry makes the default (src/models/pretrained.ts): its scoring rule and its
 * template set. Explicit options override them; a model not in the registry has no defaults.
 * @example registryDefaults(chexzero) // { multilabel: true, templateSet: 'chexzero' }
 */
export function registryDefaults(model: Pick<ClipModel, 'pretrained'>): { multilabel?: boolean; templateSet?: string } {
  const p = model.pretrained;
  if (!p) return {};
  return { multilabel: p.scoring === 'positive-negative-pair', templateSet: p.templates };
}

/** `o` with the registry's defaults filled in where the caller left them open. */
export function withRegistryDefaults(model: Pick<ClipModel, 'pretrained'>, o: PromptOptions): PromptOptions {
  const d = registryDefaults(model);
  const ownTemplates = (o.templates?.length ?? 0) > 0;
  return { ...o, multilabel: o.multilabel ?? d.multilabel, templateSet: o.templateSet ?? (ownTemplates ? undefined : d.templateSet) };
}

/** The templates to use: explicit ones win, then a named set; pos/neg pairs need negative templates. */
export function resolveTemplates(o: PromptOptions): TemplateSet {
  if (o.templates && o.templates.length > 0) {
    const negativeTemplates = o.multilabel ? o.templates.map((t) => `no ${t}`) : undefined;
    return { templates: o.templates, negativeTemplates, source: 'given by the user' };
  }
  const set = getTemplateSet(o.templateSet ?? (o.multilabel ? 'chexzero' : 'clip-medical'));
  if (o.multilabel && !set.negativeTemplates) {
    throw new ConfigError(`template set '${o.templateSet}' has no negative templates, which --multilabel (positive/negative pairs) needs`);
  }
  return set;
}

/**
 * Embed every prompt and build the [D x C] classifier (with the negative side for pos/neg pairs).
 * @example (await buildClassifier(model, { labels: ['normal', 'pneumonia'] })).weights.cols // 2
 */
export async function buildClassifier(model: ClipModel, options: PromptOptions): Promise<ZeroShotClassifier> {
  const o = withRegistryDefaults(model, options);
  const labels = o.labels.map((l) => l.trim()).filter((l) => l !== '');
  if (labels.length < (o.multilabel ? 1 : 2)) throw new ConfigError(`labels: expected ${o.multilabel ? 'at least one label' : 'at least two labels for a softmax over classes'}, got ${JSON.stringify(o.labels)}`);
  if (new Set(labels).size !== labels.length) throw new ConfigError(`labels: duplicate label in ${JSON.stringify(labels)}`);
  const set = resolveTemplates(o);
  const prompts = buildPrompts(labels, set);
  // GLoRIA's scoring keeps every prompt's word embeddings beside its global one
  if (model.meta.score.kind === 'global-local') {
    if (o.multilabel) throw new ConfigError('positive/negative prompt pairs (--multilabel) are not a scoring of global-local (GLoRIA) models');
    return buildGlobalLocalClassifier(model, labels, prompts.positive, model.meta.score);
  }
  const embedGroups = async (groups: string[][]): Promise<Matrix[]> => {
    // an embedding that depends on the padding (MedCLIP): each class's prompts padded among themselves, as
    // MedCLIP's process_class_prompts tokenizes them a class at a time
    if (model.meta.text.padding === 'longest' && groups.length > 1) {
      const out: Matrix[] = [];
      for (const g of groups) out.push(...(await embedGroups([g])));
      return out;
    }
    const flat = groups.flat();
    const e = await model.embedTexts(flat, { normalize: true });
    let at = 0;
    return groups.map((g) => {
      const m = fromFlat(e.embeddings.slice(at * e.dim, (at + g.length) * e.dim), e.dim, 'prompt embeddings');
      at += g.length;
      return m;
    });
  };
  const positive = await embedGroups(prompts.positive);
  const negative = o.multilabel ? await embedGroups(prompts.negative!) : undefined;
  const score = model.meta.score;
  return buildZeroShotClassifier(labels, positive, negative, { ensemble: score.kind === 'softmax' ? score.ensemble : undefined });
}

/**
 * The model's own scoring (softmax with its logit scale, or sigmoid with bias), or CheXzero's
 * positive/negative pair, which its evaluation applies to plain cosine similarities (logit scale 1).
 * `multilabel` true asks for the pairs; false or undefined takes the registry's scoring for a registered model
 * (as `buildClassifier` does for an open `multilabel`), else the model's own. To force one rule whatever the
 * registry says, use `scoringForClassifier` with a classifier built with `multilabel` set.
 */
export function scoringFor(model: ClipModel, multilabel?: boolean, logitScale?: number): Scoring {
  if (multilabel || registryDefaults(model).multilabel) return { kind: 'pos-neg', logitScale: logitScale ?? 1 };
  const s = model.meta.score;
  // global-local (GLoRIA): a softmax over its class similarities
  return s.kind === 'sigmoid' ? { kind: 'sigmoid', logitScale: logitScale ?? s.logitScale, logitBias: s.logitBias } : { kind: 'softmax', logitScale: logitScale ?? s.logitScale };
}

/** The scoring that fits a built classifier: positive/negative pairs when it has a negative side, else the model's own. */
export function scoringForClassifier(model: ClipModel, classifier: ZeroShotClassifier, logitScale?: number): Scoring {
  if (classifier.negativeWeights) return { kind: 'pos-neg', logitScale: logitScale ?? 1 };
  const s = model.meta.score;
  return s.kind === 'sigmoid' ? { kind: 'sigmoid', logitScale: logitScale ?? s.logitScale, logitBias: s.logitBias } : { kind: 'softmax', logitScale: logitScale ?? s.logitScale };
}

/** Embed rasters and score them against a classifier. */
export async function classifyRasters(model: ClipModel, rasters: Raster[], classifier: ZeroShotClassifier, scoring: Scoring, batchSize = 8): Promise<ZeroShotResult> {
  if (classifier.local) return classifyRastersGlobalLocal(model, rasters, classifier, scoring, batchSize);
  const e = await model.embedRasters(rasters, { normalize: true, batchSize });
  return classifyZeroShot(fromFlat(e.embeddings, e.dim, 'image embeddings'), classifier, scoring);
}
