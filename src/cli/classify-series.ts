// clipmed classify SERIES_DIR --slices middle|all|N --pool mean|max: a study-level answer for a CT/MR series.
// The series is read as a volume (slices sorted along the normal), the chosen slices are shown through the
// window as a reader sees them, each is scored against the prompts, and the per-slice logits are pooled
// (mean or max per class) before the model's own scoring.
import { buildClassifier, classifyRasters, ConfigError, chooseSlices, parseWindow, readSeriesVolume, scoringFor, toDisplayRaster, volumeSlice } from '../index.ts';
import { loadModel, progress, type ModelOptions } from './shared.ts';

export interface SeriesClassifyOptions extends ModelOptions {
  labels?: string;
  template: string[];
  templateSet?: string;
  multilabel?: boolean;
  logitScale?: string;
  slices: string;
  pool?: string;
  series?: string;
  window?: string;
  json?: boolean;
  batchSize: string;
}

export async function classifySeries(inputs: string[], opts: SeriesClassifyOptions): Promise<void> {
  if (inputs.length !== 1) throw new ConfigError(`--slices reads one series (a folder or an enhanced multi-frame file), ${inputs.length} inputs given`);
  const pool = opts.pool ?? 'mean';
  if (pool !== 'mean' && pool !== 'max') throw new ConfigError(`--pool must be mean or max, got '${pool}'`);
  const labels = (opts.labels ?? '').split(',').map((l) => l.trim()).filter(Boolean);
  if (!labels.length) throw new ConfigError('classify needs the classes: --labels a,b,c');
  const window = opts.window ? parseWindow(opts.window) : undefined;
  const volume = await readSeriesVolume(inputs[0]!, { series: opts.series });
  const chosen = chooseSlices(volume.dims[2], opts.slices);
  const rasters = chosen.map((k) => toDisplayRaster(volumeSlice(volume, k), 0, window));
  const model = await loadModel(opts);
  try {
    const classifier = await buildClassifier(model, { labels, templates: opts.template, templateSet: opts.templateSet, multilabel: opts.multilabel });
    const scoring = scoringFor(model, Boolean(opts.multilabel), opts.logitScale ? Number(opts.logitScale) : undefined);
    const C = classifier.labels.length;
    const bs = Math.max(1, Number(opts.batchSize) || 8);
    const logits = new Float32Array(rasters.length * C);
    const probs = new Float32Array(rasters.length * C);
    const bar = progress(rasters.length, 'classifying slices');
    for (let i = 0; i < rasters.length; i += bs) {
      const r = await classifyRasters(model, rasters.slice(i, i + bs), classifier, scoring, bs);
      logits.set(r.logits.data, i * C);
      probs.set(r.probs.data, i * C);
      bar.tick(Math.min(bs, rasters.length - i));
    }
    bar.stop();
    // pooled logits per class over the slices, then the model's scoring (softmax, or sigmoid per label)
    const pooled = classifier.labels.map((_, j) => {
      const col = chosen.map((_, i) => logits[i * C + j]!);
      return pool === 'max' ? Math.max(...col) : col.reduce((s, v) => s + v, 0) / col.length;
    });
    let study: number[];
    if (scoring.kind === 'softmax') {
      const m = Math.max(...pooled);
      const z = pooled.map((v) => Math.exp(v - m));
      const sum = z.reduce((s, v) => s + v, 0);
      study = z.map((v) => v / sum);
    } else study = pooled.map((v) => 1 / (1 + Math.exp(-v)));
    const scores = Object.fromEntries(classifier.labels.map((l, j) => [l, study[j]!]));
    const perSlice = chosen.map((k, i) => ({
      slice: k,
      source: volume.slices[k]!.source,
      position: volume.slices[k]!.position,
      logits: Array.from(logits.subarray(i * C, (i + 1) * C)),
      scores: Object.fromEntries(classifier.labels.map((l, j) => [l, probs[i * C + j]!])),
    }));
    if (opts.json) {
      console.log(JSON.stringify({ model: model.source.name, input: volume.source, seriesInstanceUID: volume.seriesInstanceUID, labels: classifier.labels, pool, pooledLogits: pooled, scores, slices: perSlice }));
    } else {
      const ranked = Object.entries(scores).sort((a, b) => b[1] - a[1]);
      console.log(`${volume.source} (${chosen.length} of ${volume.dims[2]} slices, ${pool} pooling)\n  ${ranked.map(([l, p]) => `${l} ${(p * 100).toFixed(1)}%`).join('  ')}`);
    }
  } finally {
    await model.release();
  }
}
