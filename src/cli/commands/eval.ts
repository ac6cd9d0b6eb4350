// clipmed eval: zero-shot (or saved probe) classification of a labelled manifest, with the metrics papers
// report, as JSON and as a self-contained HTML report.
import type { Command } from 'commander';
import {
  buildClassifier, classifyRasters, ConfigError, evaluateClassification, fromFlat, readManifest, renderEvalReport, scoringForClassifier, type Matrix, type Raster,
} from '../../index.ts';
import { writeFileAtomic } from '../files.ts';
import { DECODE_THREADS_HELP, openImages } from '../images.ts';
import { readProbe } from '../probe-file.ts';
import { collect, Failures, loadModel, MODEL_HELP, PROTOCOL_HELP, progress, type ModelOptions } from '../shared.ts';
import { printJson, say } from '../output.ts';

interface EvalOptions extends ModelOptions {
  manifest: string;
  split?: string;
  labelColumn: string;
  labels?: string;
  template: string[];
  templateSet?: string;
  probe?: string;
  window?: string;
  resamples: string;
  seed: string;
  html?: string;
  json?: boolean;
  batchSize: string;
  decodeThreads?: string;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate classification on a labelled manifest: AUROC with bootstrap CIs, accuracy, balanced accuracy, macro F1, MCC, ECE')
    .requiredOption('-m, --model <source>', MODEL_HELP)
    .option('--protocol <name>', PROTOCOL_HELP)
    .requiredOption('--manifest <file.csv>', 'labelled CSV (image column, label column, optional split column)')
    .option('--split <name>', 'only rows of this split')
    .option('--label-column <name>', 'the label column', 'label')
    .option('-l, --labels <a,b,c>', 'class names as they appear in the label column (default: the values found, sorted)')
    .option('-T, --template <template>', 'prompt template with {} for the label; repeatable', collect, [])
    .option('--template-set <name>', 'a named template set')
    .option('--probe <file.json>', 'evaluate a saved linear probe or Tip-Adapter instead of zero-shot prompts')
    .option('--window <preset|C,W>', 'display window for DICOM/NIfTI/16-bit inputs')
    .option('--resamples <n>', 'bootstrap resamples for the AUROC confidence intervals', '1000')
    .option('--seed <n>', 'bootstrap seed', '0')
    .option('--html <file.html>', 'write a self-contained HTML report (ROC curves, reliability diagram)')
    .option('--json', 'print the evaluation as JSON')
    .option('--batch-size <n>', 'images per forward pass', '8')
    .option('--threads <n>', 'CPU threads (default: all cores)')
    .option('--decode-threads <n>', DECODE_THREADS_HELP)
    .addHelpText('after', `
Example:
  clipmed eval --model biomedclip --manifest ../shared/data/pneumonia-cxr/manifest.csv --split test \\
    -T "a chest x-ray showing {}" --html pneumonia-report.html`)
    .action(async (opts: EvalOptions) => {
      const failures = new Failures();
      const manifest = await readManifest(opts.manifest, { split: opts.split, labelColumn: opts.labelColumn });
      const found = [...new Set(manifest.rows.map((r) => r.label ?? ''))].sort();
      const classes = opts.labels ? opts.labels.split(',').map((s) => s.trim()) : found;
      const unknown = found.filter((l) => !classes.includes(l));
      if (unknown.length) throw new ConfigError(`labels ${JSON.stringify(unknown)} in column '${opts.labelColumn}' are not among the classes ${JSON.stringify(classes)}`, { file: opts.manifest });
      const model = await loadModel(opts);
      // images stream through in chunks (decoded and preprocessed in worker threads while the model runs): memory stays flat however many
      const stream = await openImages([], { manifest: opts.manifest, split: opts.split, labelColumn: opts.labelColumn, window: opts.window, decodeThreads: opts.decodeThreads }, failures, model);
      if (stream.total === 0) throw new ConfigError('no readable images in the manifest', { file: opts.manifest });
      const bs = Math.max(1, Number(opts.batchSize));
      const C = classes.length;
      let scoreChunk: (rasters: Raster[]) => Promise<Float32Array>;
      if (opts.probe) {
        const clf = await readProbe(opts.probe, model);
        if (clf.classes.join('\n') !== classes.join('\n')) throw new ConfigError(`the probe's classes ${JSON.stringify(clf.classes)} differ from ${JSON.stringify(classes)}`, { file: opts.probe });
        scoreChunk = async (rasters) => {
          const e = await model.embedRasters(rasters, { normalize: true, batchSize: bs });
          return (await clf.predictProba(fromFlat(e.embeddings, e.dim))).data;
        };
      } else {
        const classifier = await buildClassifier(model, { labels: classes, templates: opts.template, templateSet: opts.templateSet });
        const scoring = scoringForClassifier(model, classifier);
        scoreChunk = async (rasters) => {
          const out = new Float32Array(rasters.length * C);
          for (let i = 0; i < rasters.length; i += bs) out.set((await classifyRasters(model, rasters.slice(i, i + bs), classifier, scoring, bs)).probs.data, i * C);
          return out;
        };
      }
      const bar = progress(stream.total, 'evaluating');
      const truth: number[] = [];
      const parts: Float32Array[] = [];
      for await (const chunk of stream.chunks(Math.max(32, bs * 4))) {
        parts.push(await scoreChunk(chunk.map((i) => i.raster)));
        for (const i of chunk) truth.push(classes.indexOf(i.label!));
        bar.tick(chunk.length);
      }
      bar.stop();
      if (truth.length === 0) throw new ConfigError('no readable images in the manifest', { file: opts.manifest });
      const probs: Matrix = { rows: truth.length, cols: C, data: new Float32Array(truth.length * C) };
      for (let p = 0, at = 0; p < parts.length; at += parts[p]!.length, p++) probs.data.set(parts[p]!, at);
      const ev = evaluateClassification(probs, truth, classes, { resamples: Number(opts.resamples), seed: Number(opts.seed) });
      const result = { model: model.source.name, manifest: opts.manifest, split: opts.split ?? null, n: ev.n, classes, metrics: ev.metrics, auroc: ev.auroc, skipped: failures.items };
      if (opts.html) {
        const metrics = [
          ...Object.entries(ev.metrics).map(([name, value]) => ({ name, value })),
          { name: 'macro AUROC', value: ev.auroc.macro.auroc, note: `95% CI ${ev.auroc.macro.lo.toFixed(3)}-${ev.auroc.macro.hi.toFixed(3)}, ${ev.auroc.resamples} bootstrap resamples` },
        ];
        await writeFileAtomic(opts.html, renderEvalReport({
          title: `clipmed evaluation: ${model.source.name}`,
          subtitle: `${ev.n} images from ${opts.manifest}${opts.split ? ` (split ${opts.split})` : ''}, ${opts.probe ? `probe ${opts.probe}` : 'zero-shot'}, ${new Date().toISOString().slice(0, 10)}`,
          metrics, auroc: ev.auroc, roc: ev.roc, reliability: ev.reliability,
        }));
      }
      if (opts.json) printJson(result);
      else {
        say(`${ev.n} images, classes ${classes.join(', ')}`);
        for (const [k, v] of Object.entries(ev.metrics)) say(`  ${k.padEnd(18)} ${v.toFixed(4)}`);
        ev.auroc.classes.forEach((c, j) => {
          const a = ev.auroc.perClass[j]!;
          say(`  AUROC ${c.padEnd(12)} ${a.auroc.toFixed(4)} (95% CI ${a.lo.toFixed(4)}-${a.hi.toFixed(4)})`);
        });
        if (opts.html) say(`  report written to ${opts.html}`);
      }
      failures.report();
      await model.release();
    });
}
