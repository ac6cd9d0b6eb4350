// Few-shot adaptation on frozen embeddings with a loaded model: a linear probe (C chosen on a validation
// split, as CLIP's linear-probe evaluation) or Tip-Adapter (training-free cache over k shots per class).
import { ConfigError } from '../errors.ts';
import type { Raster } from '../image/types.ts';
import type { ClipModel } from '../node/clip-model.ts';
import { mulberry32 } from '../eval/prng.ts';
import { fitLinearProbeCV, logGrid, LinearProbe } from '../tasks/linear-probe.ts';
import { fromFlat, softmaxRows, type Matrix } from '../tasks/matrix.ts';
import { buildTipAdapter, searchTipAdapter, TipAdapter } from '../tasks/tip-adapter.ts';
import { classifyZeroShot } from '../tasks/zero-shot.ts';
import { buildClassifier, scoringFor } from './zero-shot.ts';

export interface LabelledRaster {
  raster: Raster;
  label: string;
}

export interface FewShotOptions {
  method: 'linear' | 'tip-adapter';
  /** images per class to keep (seeded); default all */
  shots?: number;
  /** fraction of the kept images held out to choose C (linear) or alpha/beta (Tip-Adapter) */
  valFraction?: number;
  seed?: number;
  /** prompts for Tip-Adapter's zero-shot side */
  templates?: string[];
  templateSet?: string;
  batchSize?: number;
}

export interface FewShotModel {
  classes: string[];
  /** [n x C] class probabilities for unit-normalised image features */
  predictProba(features: Matrix): Matrix | Promise<Matrix>;
  toJSON(): unknown;
  summary: Record<string, unknown>;
}

/** Class names (sorted) and each item's class index. */
export function indexLabels(labels: string[]): { classes: string[]; y: number[] } {
  const classes = [...new Set(labels)].sort();
  if (classes.length < 2) throw new ConfigError(`labels: a classifier needs at least two classes, got ${JSON.stringify(classes)}`);
  return { classes, y: labels.map((l) => classes.indexOf(l)) };
}

/** Keep `shots` items per class and split off a validation part, both seeded; every class keeps one training item. */
export function splitShots<T extends { label: string }>(items: T[], shots: number | undefined, valFraction: number, seed: number): { train: T[]; val: T[] } {
  const rng = mulberry32(seed);
  const byClass = new Map<string, T[]>();
  for (const it of items) byClass.set(it.label, [...(byClass.get(it.label) ?? []), it]);
  const train: T[] = [];
  const val: T[] = [];
  for (const [label, group] of [...byClass].sort((a, b) => a[0].localeCompare(b[0]))) {
    const shuffled = [...group];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const kept = shots ? shuffled.slice(0, shots) : shuffled;
    if (shots && kept.length < shots) throw new ConfigError(`class '${label}' has ${kept.length} images, fewer than ${shots} shots`);
    const nVal = Math.min(kept.length - 1, Math.round(kept.length * valFraction));
    val.push(...kept.slice(0, nVal));
    train.push(...kept.slice(nVal));
  }
  return { train, val };
}

async function features(model: ClipModel, items: LabelledRaster[], batchSize: number): Promise<Matrix> {
  const e = await model.embedRasters(items.map((i) => i.raster), { normalize: true, batchSize });
  return fromFlat(e.embeddings, e.dim, 'image features');
}

/**
 * Fit a few-shot classifier on labelled images.
 * @example (await fitFewShot(model, items, { method: 'linear' })).summary // { method: 'linear', C: 1, validationAccuracy: 0.83, ... }
 */
export async function fitFewShot(model: ClipModel, items: LabelledRaster[], o: FewShotOptions): Promise<FewShotModel> {
  const bs = o.batchSize ?? 8;
  const { train, val } = splitShots(items, o.shots, o.valFraction ?? 0.2, o.seed ?? 0);
  if (val.length === 0) throw new ConfigError('no validation images: use more shots or a larger validation fraction');
  const { classes } = indexLabels(items.map((i) => i.label));
  const yTrain = train.map((t) => classes.indexOf(t.label));
  const yVal = val.map((t) => classes.indexOf(t.label));
  const xTrain = await features(model, train, bs);
  const xVal = await features(model, val, bs);
  if (o.method === 'linear') {
    const fit = fitLinearProbeCV(xTrain, yTrain, xVal, yVal, classes, { grid: logGrid(-3, 3, 13) });
    const best = fit.scores.find((s) => s.C === fit.C)!;
    return wrapProbe(fit.model, { method: 'linear', C: fit.C, validationAccuracy: best.accuracy, train: train.length, validation: val.length });
  }
  const prompts = { templates: o.templates, templateSet: o.templateSet };
  const zs = await buildClassifier(model, { labels: classes, ...prompts });
  const scoring = scoringFor(model, false);
  const adapter = buildTipAdapter(xTrain, yTrain, classes);
  const tuned = searchTipAdapter(adapter, xVal, classifyZeroShot(xVal, zs, scoring).logits, yVal);
  const json = { ...tuned.adapter.toJSON(), prompts };
  return {
    classes,
    summary: { method: 'tip-adapter', alpha: tuned.alpha, beta: tuned.beta, validationAccuracy: tuned.accuracy, train: train.length, validation: val.length },
    predictProba: (x) => softmaxRows(tuned.adapter.logits(x, classifyZeroShot(x, zs, scoring).logits)),
    toJSON: () => json,
  };
}

function wrapProbe(p: LinearProbe, summary: Record<string, unknown>): FewShotModel {
  return { classes: [...p.classes], summary, predictProba: (x) => p.predictProba(x), toJSON: () => p.toJSON() };
}

/** Load a saved probe or adapter (the JSON from `toJSON`) for use with `model`. */
export async function loadFewShot(model: ClipModel, saved: { kind?: string; prompts?: { templates?: string[]; templateSet?: string } }): Promise<FewShotModel> {
  if (saved.kind === 'tip-adapter') {
    const adapter = TipAdapter.fromJSON(saved as never);
    const zs = await buildClassifier(model, { labels: [...adapter.classes], ...saved.prompts });
    const scoring = scoringFor(model, false);
    return {
      classes: [...adapter.classes],
      summary: { method: 'tip-adapter', alpha: adapter.alpha, beta: adapter.beta },
      predictProba: (x) => softmaxRows(adapter.logits(x, classifyZeroShot(x, zs, scoring).logits)),
      toJSON: () => saved,
    };
  }
  const probe = LinearProbe.fromJSON(saved as never);
  return wrapProbe(probe, { method: 'linear', C: probe.C });
}
