// clipmed classify: zero-shot (or saved linear-probe / Tip-Adapter) classification of images.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  buildClassifier, classifyRasters, ConfigError, csvField, fromFlat, getLabelSet, loadFewShot, scoringFor, type Matrix,
} from '../../index.ts';
import { INPUT_HELP, loadImages, type ImageInputOptions } from '../images.ts';
import { collect, Failures, loadModel, MODEL_HELP, PROTOCOL_HELP, progress, type ModelOptions } from '../shared.ts';

interface ClassifyOptions extends ModelOptions, ImageInputOptions {
  labels?: string;
  labelSet?: string;
  template: string[];
  templateSet?: string;
  multilabel?: boolean;
  logitScale?: string;
  probe?: string;
  json?: boolean;
  csv?: boolean;
  batchSize: string;
}

export function register(program: Command): void {
  program
    .command('classify')
    .description('zero-shot classification: each image scored against prompts built from the labels, with the model\'s own scoring')
    .argument('[inputs...]', INPUT_HELP)
    .requiredOption('-m, --model <source>', MODEL_HELP)
    .option('--protocol <name>', PROTOCOL_HELP)
    .option('-l, --labels <a,b,c>', 'class names, comma-separated')
    .option('--label-set <name>', 'a named label set (chexpert-5, chexpert-14, crc100k)')
    .option('-T, --template <template>', 'prompt template with {} for the label; repeatable (an ensemble)', collect, [])
    .option('--template-set <name>', 'a named template set (chexzero, biomedclip, plip, quiltnet, conch, clip-medical)')
    .option('--multilabel', "CheXzero's positive/negative pair per label: softmax over \"{label}\" and \"no {label}\"")
    .option('--logit-scale <x>', 'override the logit scale (default: the model\'s; 1 for --multilabel, as CheXzero)')
    .option('--probe <file.json>', 'classify with a saved linear probe or Tip-Adapter (from `clipmed probe`) instead of prompts')
    .option('--manifest <file.csv>', 'a CSV with an image column (paths relative to it), e.g. ../shared/data/pneumonia-cxr/manifest.csv')
    .option('--split <name>', 'only manifest rows of this split')
    .option('--window <preset|C,W>', 'display window for DICOM/NIfTI/16-bit inputs: lung, mediastinum, bone, brain, abdomen, or center,width')
    .option('--frame <n>', 'frame of multi-frame DICOM', '0')
    .option('--json', 'print {"model", "results": [{"input", "scores": {label: probability}}], "failures"}')
    .option('--csv', 'print CSV: input, then one column per label')
    .option('--batch-size <n>', 'images per forward pass', '8')
    .option('--threads <n>', 'CPU threads (default: all cores)')
    .addHelpText('after', `
Examples:
  clipmed classify --model biomedclip --labels "normal chest x-ray,pneumonia" chest.dcm
  clipmed classify --model chexzero.pt --label-set chexpert-5 --multilabel --manifest cxr.csv --json`)
    .action(async (inputs: string[], opts: ClassifyOptions) => {
      const failures = new Failures();
      const model = await loadModel(opts);
      const { images } = await loadImages(inputs, opts, failures);
      if (images.length === 0) {
        failures.report();
        throw new ConfigError('no images to classify');
      }
      const bs = Math.max(1, Number(opts.batchSize));
      let labels: string[];
      let probs: Matrix;
      const bar = progress(images.length, 'classifying');
      if (opts.probe) {
        const clf = await loadFewShot(model, JSON.parse(await readFile(opts.probe, 'utf8')));
        const e = await model.embedRasters(images.map((i) => i.raster), { normalize: true, batchSize: bs });
        labels = clf.classes;
        probs = await clf.predictProba(fromFlat(e.embeddings, e.dim));
        bar.tick(images.length);
      } else {
        labels = opts.labelSet ? [...getLabelSet(opts.labelSet)] : (opts.labels ?? '').split(',');
        const classifier = await buildClassifier(model, { labels, templates: opts.template, templateSet: opts.templateSet, multilabel: opts.multilabel });
        labels = classifier.labels;
        const scoring = scoringFor(model, Boolean(opts.multilabel), opts.logitScale ? Number(opts.logitScale) : undefined);
        const parts: Float32Array[] = [];
        for (let i = 0; i < images.length; i += bs) {
          const batch = images.slice(i, i + bs);
          parts.push((await classifyRasters(model, batch.map((b) => b.raster), classifier, scoring, bs)).probs.data);
          bar.tick(batch.length);
        }
        const data = new Float32Array(images.length * labels.length);
        parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
        probs = { rows: images.length, cols: labels.length, data };
      }
      bar.stop();
      const C = labels.length;
      const results = images.map((img, i) => ({
        input: img.source,
        scores: Object.fromEntries(labels.map((l, j) => [l, probs.data[i * C + j]!])),
      }));
      if (opts.json) {
        console.log(JSON.stringify({ model: model.source.name, labels, results, failures: failures.items }));
      } else if (opts.csv) {
        console.log(['input', ...labels].map(csvField).join(','));
        for (const r of results) console.log([r.input, ...labels.map((l) => r.scores[l]!.toFixed(6))].map(csvField).join(','));
      } else {
        for (const r of results) {
          const ranked = Object.entries(r.scores).sort((a, b) => b[1] - a[1]);
          console.log(`${r.input}\n  ${ranked.map(([l, p]) => `${l} ${(p * 100).toFixed(1)}%`).join('  ')}`);
        }
      }
      failures.report();
      await model.release();
    });
}
