// Zero-shot with GLoRIA's global + local scoring for a loaded model whose spec scores 'global-local': each
// prompt's global embedding and its word embeddings (word slots 1..n of the text graph's `word_embeds`), each
// image's global embedding and region embeddings (the vision graph's `patch_embeds`), then
// src/tasks/local-alignment.ts. The class similarities are the logits (times the logit scale); the
// probabilities their softmax over the classes.
import { ConfigError } from '../errors.ts';
import type { Raster } from '../image/types.ts';
import type { ClipModelCore as ClipModel } from '../models/clip-model-core.ts';
import type { ScoreSpec } from '../models/family.ts';
import { globalLocalScores, type ImageEmbedding, type PromptEmbedding } from '../tasks/local-alignment.ts';
import { fromFlat, softmaxRows } from '../tasks/matrix.ts';
import { buildZeroShotClassifier, type Scoring, type ZeroShotClassifier, type ZeroShotResult } from '../tasks/zero-shot.ts';

type GlobalLocalSpec = Extract<ScoreSpec, { kind: 'global-local' }>;

/**
 * How many word slots a prompt is compared with. 'prompt-characters' is GLoRIA's own count: `process_text`
 * sets cap_lens to `len([w for w in txt if not w.startswith("[")])` over the prompt string, i.e. its characters
 * other than '[', and get_local_similarities takes word slots 1..cap_len (the words, [SEP], then zero slots);
 * slots past the padded length (`wordSlots`) do not exist (GLoRIA's own code fails there; here they are cut).
 * @example promptWordSlots('pneumonia', { wordCount: 'prompt-characters', wordSlots: 97 }) // 9
 */
export function promptWordSlots(prompt: string, s: Pick<GlobalLocalSpec, 'wordCount' | 'wordSlots'>): number {
  if (s.wordCount !== 'prompt-characters') throw new ConfigError(`scoring.wordCount '${String(s.wordCount)}': expected 'prompt-characters'`);
  const n = [...prompt].filter((c) => c !== '[').length;
  if (n === 0) throw new ConfigError(`prompt ${JSON.stringify(prompt)} has no words to compare with image regions`);
  return Math.min(n, s.wordSlots - 1);
}

/** Embed every prompt (global and word embeddings) and keep them per class; `weights` holds the global class vectors. */
export async function buildGlobalLocalClassifier(model: ClipModel, labels: string[], prompts: string[][], s: GlobalLocalSpec): Promise<ZeroShotClassifier> {
  const flat = prompts.flat();
  const e = await model.embedTexts(flat, { wordEmbeds: true });
  const D = e.dim;
  const C = model.meta.text.contextLength;
  if (!e.wordEmbeds) throw new ConfigError('the text graph gave no word embeddings');
  const embedded: PromptEmbedding[] = flat.map((p, i) => {
    const k = promptWordSlots(p, s);
    const words = new Float32Array(k * D); // slots 1..k; those past the context stay zero
    const avail = Math.min(k, C - 1);
    words.set(e.wordEmbeds!.subarray((i * C + 1) * D, (i * C + 1 + avail) * D));
    return { global: e.embeddings.slice(i * D, (i + 1) * D), words };
  });
  let at = 0;
  const perClass = prompts.map((g) => embedded.slice(at, (at += g.length)));
  const base = buildZeroShotClassifier(labels, perClass.map((g) => fromFlat(Float32Array.from(g.flatMap((p) => [...p.global])), D, 'prompt embeddings')));
  return { ...base, local: { labels: [...labels], prompts: perClass, dim: D, scoring: { kind: 'global-local', attentionTemp: s.attentionTemp, wordTemp: s.wordTemp } } };
}

/** Embed rasters (global and region embeddings) and score them with GLoRIA's similarities, softmax over classes. */
export async function classifyRastersGlobalLocal(model: ClipModel, rasters: Raster[], classifier: ZeroShotClassifier, scoring: Scoring, batchSize = 8): Promise<ZeroShotResult> {
  if (!classifier.local) throw new ConfigError('this classifier has no word embeddings for global-local scoring');
  if (scoring.kind !== 'softmax') throw new ConfigError(`global-local scoring gives a softmax over classes, not '${scoring.kind}'`);
  const e = await model.embedRasters(rasters, { patchEmbeds: true, batchSize });
  const D = e.dim;
  const P = e.patchEmbeds!.length / rasters.length;
  const images: ImageEmbedding[] = rasters.map((_, n) => ({ global: e.embeddings.subarray(n * D, (n + 1) * D), regions: e.patchEmbeds!.subarray(n * P, (n + 1) * P) }));
  const sims = globalLocalScores(images, classifier.local, classifier.local.scoring); // [N x C]
  const logits = { rows: sims.rows, cols: sims.cols, data: sims.data.map((v) => v * scoring.logitScale) };
  return { logits, probs: softmaxRows(logits) };
}
