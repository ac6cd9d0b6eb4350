// clipmed report: retrieval-based report generation (CXR-RePaiR) from a report corpus.
import type { Command } from 'commander';
import { composeReport, ConfigError, embedCorpus, readCorpus, retrieveTexts } from '../../index.ts';
import { INPUT_HELP, loadImages } from '../images.ts';
import { withProgress } from '../progress-model.ts';
import { Failures, info, loadModel, MODEL_HELP, PROTOCOL_HELP, type ModelOptions } from '../shared.ts';
import { printJson, say } from '../output.ts';

interface ReportOptions extends ModelOptions {
  corpus: string;
  column: string;
  sentences?: boolean;
  k: string;
  window?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('retrieval-based report generation (CXR-RePaiR): the corpus reports or sentences most similar to each image')
    .argument('<inputs...>', INPUT_HELP)
    .requiredOption('-m, --model <source>', MODEL_HELP)
    .option('--protocol <name>', PROTOCOL_HELP)
    .requiredOption('--corpus <file>', 'reports: a CSV (see --column) or a text file with one report per line')
    .option('--column <names>', 'CSV column(s) holding the text, comma-separated', 'impression')
    .option('--sentences', 'retrieve sentences and compose a report from the top k (CXR-RePaiR-Select)')
    .option('-k, --k <n>', 'how many reports or sentences', '5')
    .option('--window <preset|C,W>', 'display window for DICOM/NIfTI/16-bit inputs')
    .option('--json', 'print {"model", "results": [{"input", "report"?, "retrieved": [{"text", "score"}]}]}')
    .addHelpText('after', `
Example:
  clipmed report chest.dcm --model chexzero.pt --corpus ../shared/data/iu-xray-reports/indiana_reports.csv --sentences -k 3`)
    .action(async (inputs: string[], opts: ReportOptions) => {
      const k = Number(opts.k);
      if (!Number.isInteger(k) || k < 1) throw new ConfigError(`-k ${opts.k}: expected a positive integer`);
      const failures = new Failures();
      const texts = await readCorpus(opts.corpus, { columns: opts.column.split(','), sentences: opts.sentences });
      const model = await loadModel(opts);
      const corpus = await embedCorpus(withProgress(model, 'corpus'), texts, info);
      const { images } = await loadImages(inputs, opts, failures);
      const e = await withProgress(model, 'report').embedRasters(images.map((i) => i.raster), { normalize: true });
      const results = images.map((img, i) => {
        const v = e.embeddings.subarray(i * e.dim, (i + 1) * e.dim);
        if (opts.sentences) {
          const r = composeReport(v, corpus, k);
          return { input: img.source, report: r.report, retrieved: r.sentences.map(({ text, score }) => ({ text, score })) };
        }
        return { input: img.source, retrieved: retrieveTexts(v, corpus, k).map(({ text, score }) => ({ text, score })) };
      });
      if (opts.json) printJson({ model: model.source.name, corpus: opts.corpus, results, failures: failures.items });
      else {
        for (const r of results) {
          say(r.input);
          if ('report' in r) say(`  report: ${r.report}`);
          r.retrieved.forEach((t, j) => say(`  ${j + 1}. (${t.score.toFixed(3)}) ${t.text}`));
        }
      }
      failures.report();
      await model.release();
    });
}
