// clipmed probe: fit a linear probe or Tip-Adapter on a labelled manifest, save it for `classify --probe`.
import type { Command } from 'commander';
import { accuracy, balancedAccuracy, ConfigError, fitFewShot, fromFlat, readManifest, splitShots, type LabelledRaster } from '../../index.ts';
import { loadImages } from '../images.ts';
import { saveProbe } from '../probe-file.ts';
import { withProgress } from '../progress-model.ts';
import { Failures, loadModel, MODEL_HELP, PROTOCOL_HELP, type ModelOptions } from '../shared.ts';
import { printJson, say } from '../output.ts';

interface ProbeOptions extends ModelOptions {
  manifest: string;
  trainSplit: string;
  testSplit?: string;
  labelColumn: string;
  method: 'linear' | 'tip-adapter';
  shots?: string;
  valFraction: string;
  seed: string;
  out?: string;
  window?: string;
  json?: boolean;
  batchSize: string;
}

export function register(program: Command): void {
  program
    .command('probe')
    .description('fit a few-shot classifier on frozen image embeddings: a linear probe (C chosen on a validation split) or Tip-Adapter')
    .requiredOption('-m, --model <source>', MODEL_HELP)
    .option('--protocol <name>', PROTOCOL_HELP)
    .requiredOption('--manifest <file.csv>', 'labelled CSV (image, label, split columns)')
    .option('--train-split <name>', 'rows to learn from', 'train')
    .option('--test-split <name>', 'rows to report accuracy on')
    .option('--label-column <name>', 'the label column', 'label')
    .option('--method <linear|tip-adapter>', 'linear probe or Tip-Adapter', 'linear')
    .option('--shots <k>', 'images per class to use (seeded); default all')
    .option('--val-fraction <f>', 'fraction held out to choose the hyper-parameters', '0.2')
    .option('--seed <n>', 'seed for choosing shots and the validation part', '0')
    .option('--window <preset|C,W>', 'display window for DICOM/NIfTI/16-bit inputs')
    .option('-o, --out <file.json>', "save the fitted classifier with the model's checkpoint sha256 (reuse it with `clipmed classify --probe` on the same model)")
    .option('--json', 'print the summary as JSON')
    .option('--batch-size <n>', 'images per forward pass', '8')
    .option('--threads <n>', 'CPU threads (default: all cores)')
    .addHelpText('after', `
Example:
  clipmed probe --model biomedclip --manifest ../shared/data/pneumonia-cxr/manifest.csv --shots 16 --test-split test -o probe.json`)
    .action(async (opts: ProbeOptions) => {
      if (opts.method !== 'linear' && opts.method !== 'tip-adapter') throw new ConfigError(`--method '${opts.method}': expected linear or tip-adapter`);
      const failures = new Failures();
      const model = await loadModel(opts);
      const shots = opts.shots ? Number(opts.shots) : undefined;
      const labelled = async (split: string, keepShots?: number): Promise<LabelledRaster[]> => {
        const m = await readManifest(opts.manifest, { split, labelColumn: opts.labelColumn });
        for (const r of m.missing) failures.add(r.path, new Error(`listed in ${opts.manifest} but missing`));
        const rows = m.rows.map((r) => {
          if (!r.label) throw new ConfigError(`no label for ${r.path} in column '${opts.labelColumn}'`, { file: opts.manifest });
          return { ...r, label: r.label };
        });
        // choose the shots before decoding anything: only they are read
        const chosen = keepShots ? splitShots(rows, keepShots, 0, Number(opts.seed)).train : rows;
        const { images } = await loadImages(chosen.map((r) => r.path), { window: opts.window }, failures);
        const labelOf = new Map(chosen.map((r) => [r.path, r.label]));
        return images.map((i) => ({ raster: i.raster, label: labelOf.get(i.source)! }));
      };
      const fitted = await fitFewShot(withProgress(model, 'fitting'), await labelled(opts.trainSplit, shots), {
        method: opts.method, valFraction: Number(opts.valFraction), seed: Number(opts.seed), batchSize: Number(opts.batchSize),
      });
      const summary: Record<string, unknown> = { model: model.source.name, classes: fitted.classes, ...fitted.summary };
      if (opts.testSplit) {
        const test = await labelled(opts.testSplit);
        const e = await withProgress(model, 'testing').embedRasters(test.map((t) => t.raster), { normalize: true, batchSize: Number(opts.batchSize) });
        const p = await fitted.predictProba(fromFlat(e.embeddings, e.dim));
        const pred = Array.from({ length: p.rows }, (_, i) => {
          let best = 0;
          for (let j = 1; j < p.cols; j++) if (p.data[i * p.cols + j]! > p.data[i * p.cols + best]!) best = j;
          return best;
        });
        const truth = test.map((t) => fitted.classes.indexOf(t.label));
        const majority = Math.max(...fitted.classes.map((_, c) => truth.filter((t) => t === c).length)) / truth.length;
        summary.test = { images: test.length, accuracy: accuracy(truth, pred), balancedAccuracy: balancedAccuracy(truth, pred), majorityClassAccuracy: majority };
      }
      if (opts.out) {
        await saveProbe(opts.out, fitted, model);
        summary.saved = opts.out;
      }
      if (opts.json) printJson(summary);
      else for (const [k, v] of Object.entries(summary)) say(`${k.padEnd(20)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
      failures.report();
      await model.release();
    });
}
