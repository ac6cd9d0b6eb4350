// clipmed classify: zero-shot (or saved linear-probe / Tip-Adapter) classification of images.
import type { Command } from 'commander';
import {
  buildClassifier, calibrateConformal, classifyRasters, classifyZeroShot, ConfigError, csvField, fromFlat, getLabelSet, predictionSets, scoringForClassifier,
  type ConformalCalibration, type ConformalMethod, type Matrix, type Raster,
} from '../../index.ts';
import { DECODE_THREADS_HELP, INPUT_HELP, loadImages, openImages, type ImageInputOptions } from '../images.ts';
import { readProbe } from '../probe-file.ts';
import { embedAgainstPrior, PRIOR_HELP, readPrior } from '../prior.ts';
import { classifySlide, type SlideOptions } from '../classify-slide.ts';
import { classifySeries, type SeriesClassifyOptions } from '../classify-series.ts';
import { isSlideFile } from '../../index.ts';
import { collect, Failures, loadModel, MODEL_HELP, PROTOCOL_HELP, progress, type ModelOptions } from '../shared.ts';
import { printJson, say } from '../output.ts';

interface ClassifyOptions extends ModelOptions, ImageInputOptions {
  labels?: string;
  labelSet?: string;
  template: string[];
  templateSet?: string;
  multilabel?: boolean;
  logitScale?: string;
  probe?: string;
  conformal?: string;
  conformalSplit?: string;
  conformalMethod: string;
  alpha: string;
  labelColumn: string;
  json?: boolean;
  csv?: boolean;
  batchSize: string;
  prior?: string;
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
    .option('--no-multilabel', "a softmax over the labels, where the model's registry entry scores positive/negative pairs (CheXzero)")
    .option('--logit-scale <x>', 'override the logit scale (default: the model\'s; 1 for --multilabel, as CheXzero)')
    .option('--probe <file.json>', 'classify with a saved linear probe or Tip-Adapter (from `clipmed probe`) instead of prompts')
    .option('--manifest <file.csv>', 'a CSV with an image column (paths relative to it), e.g. ../shared/data/pneumonia-cxr/manifest.csv')
    .option('--split <name>', 'only manifest rows of this split')
    .option('--window <preset|C,W>', 'display window for DICOM/NIfTI/16-bit inputs: lung, mediastinum, bone, brain, abdomen, or center,width')
    .option('--frame <n>', 'frame of multi-frame DICOM', '0')
    .option('--conformal <cal.csv>', 'labelled calibration manifest: add split-conformal prediction sets with coverage 1 - alpha')
    .option('--conformal-split <name>', 'only calibration rows of this split')
    .option('--conformal-method <m>', 'conformity score: lac, aps or aps-randomized', 'lac')
    .option('--alpha <a>', 'miscoverage for --conformal (0.1: sets hold the true label 90% of the time)', '0.1')
    .option('--label-column <name>', 'label column of the calibration manifest', 'label')
    .option('--json', 'print {"model", "results": [{"input", "scores": {label: probability}, "set"?}], "failures"}')
    .option('--csv', 'print CSV: input, then one column per label')
    .option('--prior <image>', PRIOR_HELP)
    .option('--batch-size <n>', 'images per forward pass', '8')
    .option('--threads <n>', 'CPU threads (default: all cores)')
    .option('--decode-threads <n>', DECODE_THREADS_HELP)
    .option('--magnification <x>', 'whole-slide image (.svs, pyramidal .tif): tile at this magnification, e.g. 20 (default: the slide\'s own)')
    .option('--tile-size <px>', 'whole-slide image: tile side at that magnification (default: the model\'s input size)')
    .option('--top-k <k>', 'whole-slide image: MI-Zero pooling, mean of the K highest tile logits per class', '10')
    .option('--min-tissue <f>', 'whole-slide image: least tissue fraction of a tile (Otsu on the lowest level)', '0.5')
    .option('--slices <which>', 'a DICOM series (folder) as one study: classify its middle slice, all, or N evenly spread, and pool them')
    .option('--pool <how>', 'with --slices: mean or max of the slices\' logits per class', 'mean')
    .option('--series <uid>', 'with --slices: the Series Instance UID when the folder holds several')
    .option('--heatmap <out.png>', 'whole-slide image: each tile\'s probability of the slide\'s class over the thumbnail')
    .addHelpText('after', `
Examples:
  clipmed classify --model biomedclip --labels "normal chest x-ray,pneumonia" chest.dcm
  clipmed classify --model chexzero.pt --label-set chexpert-5 --multilabel --manifest cxr.csv --json
  clipmed classify --model plip --labels "tumor,normal tissue" slide.svs --magnification 20 --heatmap map.png`)
    .action(async (inputs: string[], opts: ClassifyOptions) => {
      if (!opts.probe && !opts.labels?.trim() && !opts.labelSet) {
        throw new ConfigError('classify needs the classes: --labels a,b,c or --label-set NAME (or a saved --probe)');
      }
      if ((opts as { slices?: string }).slices) return classifySeries(inputs, opts as unknown as SeriesClassifyOptions);
      if (inputs.length === 1 && !opts.manifest && !opts.probe && (await isSlideFile(inputs[0]!))) return classifySlide(inputs[0]!, opts as unknown as SlideOptions);
      const failures = new Failures();
      const model = await loadModel(opts);
      // images stream through in chunks (decoded and preprocessed in worker threads while the model runs): memory stays flat
      const stream = await openImages(inputs, opts, failures, model);
      if (stream.total === 0) {
        failures.report();
        throw new ConfigError('no images to classify');
      }
      const bs = Math.max(1, Number(opts.batchSize));
      // one scorer for the inputs and, with --conformal, the calibration images
      // --prior: every input against the same previous image (BioViL-T's temporal tower)
      if (opts.prior && opts.conformal) throw new ConfigError('--prior and --conformal: the calibration images have no previous image');
      const prior = opts.prior ? await readPrior(model, opts.prior, opts.window) : undefined;
      let labels: string[];
      let score: (rasters: Raster[], tick: (n: number) => void) => Promise<Matrix>;
      if (opts.probe) {
        const clf = await readProbe(opts.probe, model);
        labels = clf.classes;
        score = async (rasters, tick) => {
          const e = prior ? await embedAgainstPrior(model, rasters, prior, { normalize: true, batchSize: bs }) : await model.embedRasters(rasters, { normalize: true, batchSize: bs });
          tick(rasters.length);
          return clf.predictProba(fromFlat(e.embeddings, e.dim));
        };
      } else {
        const wanted = opts.labelSet ? [...getLabelSet(opts.labelSet)] : (opts.labels ?? '').split(',');
        const classifier = await buildClassifier(model, { labels: wanted, templates: opts.template, templateSet: opts.templateSet, multilabel: opts.multilabel });
        labels = classifier.labels;
        // pairs when the classifier has a negative side: --multilabel, or the registry's default for the model
        const scoring = scoringForClassifier(model, classifier, opts.logitScale ? Number(opts.logitScale) : undefined);
        if (prior && classifier.local) throw new ConfigError('--prior: global-local scoring (GLoRIA) takes single images');
        score = async (rasters, tick) => {
          const data = new Float32Array(rasters.length * labels.length);
          for (let i = 0; i < rasters.length; i += bs) {
            const batch = rasters.slice(i, i + bs);
            const result = prior
              ? classifyZeroShot(fromFlat((await embedAgainstPrior(model, batch, prior, { normalize: true, batchSize: bs })).embeddings, model.embedDim), classifier, scoring)
              : await classifyRasters(model, batch, classifier, scoring, bs);
            data.set(result.probs.data, i * labels.length);
            tick(batch.length);
          }
          return { rows: rasters.length, cols: labels.length, data };
        };
      }
      const bar = progress(stream.total, 'classifying');
      const images: Array<{ source: string }> = [];
      const parts: Matrix[] = [];
      for await (const chunk of stream.chunks(Math.max(32, bs * 4))) {
        parts.push(await score(chunk.map((i) => i.raster), bar.tick));
        for (const i of chunk) images.push({ source: i.source });
      }
      bar.stop();
      if (images.length === 0) {
        failures.report();
        throw new ConfigError('no images to classify: none of the inputs could be read');
      }
      const probs: Matrix = { rows: images.length, cols: labels.length, data: new Float32Array(images.length * labels.length) };
      for (let p = 0, at = 0; p < parts.length; at += parts[p]!.data.length, p++) probs.data.set(parts[p]!.data, at);
      const C = labels.length;
      let sets: number[][] | undefined;
      let conformal: ConformalCalibration | undefined;
      if (opts.conformal) {
        // split conformal prediction: calibrate the score threshold on a labelled set, then predict sets
        if (opts.multilabel) throw new ConfigError('--conformal needs one label per image (softmax scores), not --multilabel');
        const cal = await loadImages([], { manifest: opts.conformal, split: opts.conformalSplit, labelColumn: opts.labelColumn, window: opts.window }, failures);
        const unknown = [...new Set(cal.images.map((i) => i.label ?? ''))].filter((l) => !labels.includes(l));
        if (unknown.length) throw new ConfigError(`calibration labels ${JSON.stringify(unknown)} are not among the classes ${JSON.stringify(labels)}`, { file: opts.conformal });
        const calProbs = await score(cal.images.map((i) => i.raster), () => {});
        conformal = calibrateConformal(calProbs, cal.images.map((i) => labels.indexOf(i.label!)), { method: opts.conformalMethod as ConformalMethod, alpha: Number(opts.alpha) });
        sets = predictionSets(probs, conformal);
      }
      const results = images.map((img, i) => ({
        input: img.source,
        scores: Object.fromEntries(labels.map((l, j) => [l, probs.data[i * C + j]!])),
        ...(sets ? { set: sets[i]!.map((j) => labels[j]!) } : {}),
      }));
      if (opts.json) {
        printJson({ model: model.source.name, labels, ...(conformal ? { conformal } : {}), results, failures: failures.items });
      } else if (opts.csv) {
        say(['input', ...labels].map(csvField).join(','));
        for (const r of results) say([r.input, ...labels.map((l) => r.scores[l]!.toFixed(6))].map(csvField).join(','));
      } else {
        for (const r of results) {
          const ranked = Object.entries(r.scores).sort((a, b) => b[1] - a[1]);
          say(`${r.input}\n  ${ranked.map(([l, p]) => `${l} ${(p * 100).toFixed(1)}%`).join('  ')}`);
          if (r.set) say(`  ${((1 - conformal!.alpha) * 100).toFixed(0)}% prediction set: {${r.set.join(', ')}}`);
        }
      }
      failures.report();
      await model.release();
    });
}
