// clipmed classify SLIDE.svs: zero-shot classification of a whole-slide image the MI-Zero way: tissue tiles
// at a chosen magnification, each embedded and scored against the prompts, the top-K tile logits per class
// pooled into the slide's scores; a per-tile heatmap over the thumbnail on request.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';
import {
  buildClassifier, classifyZeroShot, ConfigError, fromFlat, openSlideFile, poolTopK, readGridTile, scoringFor, slideHeatmap, tileGrid,
  type Raster,
} from '../index.ts';
import { writeFileAtomic } from './files.ts';
import { info, loadModel, progress, type ModelOptions } from './shared.ts';

export interface SlideOptions extends ModelOptions {
  labels?: string;
  template: string[];
  templateSet?: string;
  logitScale?: string;
  magnification?: string;
  tileSize?: string;
  topK?: string;
  minTissue?: string;
  heatmap?: string;
  json?: boolean;
  batchSize: string;
}

const numberOption = (name: string, v: string | undefined, integer = false): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new ConfigError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${v}'`);
  return n;
};

/** The model's input side: tiles default to it, so that preprocessing does not resample them. */
const modelSide = (size: number | [number, number]) => (typeof size === 'number' ? size : size[0]);

export async function classifySlide(input: string, opts: SlideOptions): Promise<void> {
  const labels = (opts.labels ?? '').split(',').map((l) => l.trim()).filter(Boolean);
  if (labels.length < 2) throw new ConfigError('a slide needs at least two classes: --labels a,b');
  const magnification = numberOption('magnification', opts.magnification);
  const tileSize = numberOption('tile-size', opts.tileSize, true);
  const topK = numberOption('top-k', opts.topK, true) ?? 10;
  const minTissue = opts.minTissue !== undefined ? Number(opts.minTissue) : undefined;
  const bs = numberOption('batch-size', opts.batchSize, true) ?? 8;
  const slide = await openSlideFile(input);
  const model = await loadModel(opts);
  try {
    const grid = await tileGrid(slide, { magnification, tileSize: tileSize ?? modelSide(model.meta.preprocess.size), minTissue });
    if (!grid.tiles.length) throw new ConfigError(`no tile of ${slide.source} holds enough tissue (${grid.columns}x${grid.rows} grid at ${grid.magnification}x; lower --min-tissue)`, { file: slide.source });
    info(`${slide.source}: ${slide.format}, ${slide.levels.length} levels, ${slide.magnification ?? '?'}x; ${grid.tiles.length} of ${grid.columns * grid.rows} tiles hold tissue at ${grid.magnification}x (${grid.tileSize} px, from level ${grid.level})`);
    const classifier = await buildClassifier(model, { labels, templates: opts.template, templateSet: opts.templateSet });
    const scoring = scoringFor(model, false, opts.logitScale ? Number(opts.logitScale) : undefined);
    const C = classifier.labels.length;
    const logits = new Float32Array(grid.tiles.length * C);
    const bar = progress(grid.tiles.length, 'embedding tiles');
    for (let i = 0; i < grid.tiles.length; i += bs) {
      const batch: Raster[] = [];
      for (const t of grid.tiles.slice(i, i + bs)) batch.push(await readGridTile(slide, grid, t));
      const e = await model.embedRasters(batch, { normalize: true, batchSize: bs });
      logits.set(classifyZeroShot(fromFlat(e.embeddings, e.dim, 'tile embeddings'), classifier, scoring).logits.data, i * C);
      bar.tick(batch.length);
    }
    bar.stop();
    const slideScores = poolTopK({ rows: grid.tiles.length, cols: C, data: logits }, topK, scoring);
    const best = slideScores.probs.indexOf(Math.max(...slideScores.probs));
    let heatmap: string | undefined;
    if (opts.heatmap) {
      // each tile's probability of the slide's class (softmax over its own logits)
      const values = grid.tiles.map((_, i) => {
        const row = Array.from(logits.subarray(i * C, (i + 1) * C));
        if (scoring.kind !== 'softmax') return 1 / (1 + Math.exp(-row[best]!));
        const m = Math.max(...row);
        const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
        return Math.exp(row[best]! - m) / z;
      });
      const thumb = await slide.readLevel(grid.mask.level);
      const map = slideHeatmap(thumb, grid.mask.downsample, grid, values);
      await mkdir(dirname(opts.heatmap), { recursive: true });
      await writeFileAtomic(opts.heatmap, await sharp(Buffer.from(map.data), { raw: { width: map.width, height: map.height, channels: map.channels } }).png().toBuffer());
      heatmap = opts.heatmap;
    }
    const scores = Object.fromEntries(classifier.labels.map((l, j) => [l, slideScores.probs[j]!]));
    if (opts.json) {
      console.log(JSON.stringify({
        model: model.source.name,
        input: slide.source,
        slide: { format: slide.format, magnification: slide.magnification, mpp: slide.mpp, levels: slide.levels.map(({ width, height, downsample }) => ({ width, height, downsample })) },
        labels: classifier.labels,
        scores,
        pooledLogits: Array.from(slideScores.pooled),
        topK: slideScores.k,
        grid: { columns: grid.columns, rows: grid.rows, tileSize: grid.tileSize, magnification: grid.magnification, level: grid.level, readSize: grid.readSize, tissueThreshold: grid.mask.threshold },
        tiles: grid.tiles.map((t, i) => ({ ...t, logits: Array.from(logits.subarray(i * C, (i + 1) * C)) })),
        ...(heatmap ? { heatmap } : {}),
      }));
    } else {
      const ranked = Object.entries(scores).sort((a, b) => b[1] - a[1]);
      console.log(`${slide.source}\n  ${ranked.map(([l, p]) => `${l} ${(p * 100).toFixed(1)}%`).join('  ')}`);
      console.log(`  ${grid.tiles.length} tissue tiles at ${grid.magnification}x, top-${slideScores.k} pooling${heatmap ? `; heatmap ${heatmap}` : ''}`);
    }
  } finally {
    await model.release();
  }
}

