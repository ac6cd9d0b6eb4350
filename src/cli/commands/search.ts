// clipmed search: text-to-image and image-to-image search over an archive made by `clipmed index`.
import type { Command } from 'commander';
import { ConfigError, openIndex } from '../../index.ts';
import { loadModel } from '../shared.ts';

interface SearchCmdOptions {
  db: string;
  text?: string;
  image?: string;
  model?: string;
  k: string;
  where?: string;
  exact?: boolean;
  hybrid?: boolean;
  keywordWeight: string;
  duplicates?: boolean;
  threshold: string;
  threads?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('search')
    .description('search an archive made by `clipmed index` by text or by image (cosine similarity), or list near-duplicates')
    .requiredOption('--db <dir>', 'the database folder')
    .option('--text <query>', 'find images that match this text (embedded by the model\'s text tower)')
    .option('--image <file>', 'find images like this one (JPEG, PNG, TIFF, DICOM, NIfTI)')
    .option('-m, --model <source>', "which model's table, when the archive holds several (its source as indexed, or a spec hash prefix)")
    .option('--k <n>', 'results', '10')
    .option('--where <sql>', "filter on the metadata columns, e.g. \"modality = 'CR' AND label = 'pneumonia'\" (columns: path, source, frame, content_hash, modality, body_part, study_uid, series_uid, instance_uid, label, report)")
    .option('--exact', 'brute-force cosine over every row instead of the vector index')
    .option('--hybrid', 'with --text: rank by cosine + weight x keyword match of the indexed reports (score stays the cosine; keyword is in [0, 1])')
    .option('--keyword-weight <w>', 'weight of the keyword score in --hybrid', '0.5')
    .option('--duplicates', 'list groups of near-duplicate images instead of searching')
    .option('--threshold <cos>', 'cosine similarity at which --duplicates links two images', '0.98')
    .option('--threads <n>', 'CPU threads (default: all cores)')
    .option('--json', 'print {"model", "results": [{"path", "score", "meta"}]} (with --duplicates: {"model", "threshold", "groups": [{"paths", "minScore"}]})')
    .addHelpText('after', `
Examples:
  clipmed search --db archive --text "right pleural effusion" --k 5
  clipmed search --db archive --image query.jpeg --where "label = 'pneumonia'" --json
  clipmed search --db archive --duplicates --threshold 0.98`)
    .action(async (opts: SearchCmdOptions) => {
      const k = Number(opts.k);
      if (!Number.isInteger(k) || k < 1) throw new ConfigError(`--k must be a positive integer, got '${opts.k}'`);
      const index = await openIndex(opts.db);
      try {
        const table = await index.pickTable(opts.model);
        if (opts.duplicates) {
          const threshold = Number(opts.threshold);
          if (!(threshold > -1 && threshold <= 1)) throw new ConfigError(`--threshold must be a cosine in (-1, 1], got '${opts.threshold}'`);
          const groups = await index.duplicates(table, threshold, opts.where);
          if (opts.json) console.log(JSON.stringify({ model: table.spec.model, threshold, groups }));
          else {
            console.log(`${groups.length} group(s) of near-duplicates (cosine >= ${threshold})`);
            for (const g of groups) console.log(`  ${g.paths.length} images, min cosine ${g.minScore.toFixed(4)}:\n${g.paths.map((p) => `    ${p}`).join('\n')}`);
          }
          return;
        }
        if ((opts.text === undefined) === (opts.image === undefined)) throw new ConfigError('give exactly one of --text "..." or --image FILE (or --duplicates)');
        if (opts.hybrid && opts.text === undefined) throw new ConfigError('--hybrid needs --text');
        const model = await loadModel({ model: table.spec.model, threads: opts.threads, protocol: table.spec.protocol });
        try {
          const r = await index.search(model, { text: opts.text, image: opts.image }, {
            k,
            where: opts.where,
            exact: opts.exact,
            hybrid: opts.hybrid,
            keywordWeight: Number(opts.keywordWeight),
            modelSource: table.spec.model,
            protocol: table.spec.protocol,
          });
          if (opts.json) console.log(JSON.stringify(r));
          else {
            for (const [i, h] of r.results.entries()) {
              const extra = [h.meta.label, h.meta.modality].filter((x) => x !== undefined).join(', ');
              console.log(`${String(i + 1).padStart(3)}. ${h.score.toFixed(4)}${h.keyword !== undefined ? ` (keyword ${h.keyword.toFixed(2)})` : ''}  ${h.path}${extra ? `  [${extra}]` : ''}`);
            }
          }
        } finally {
          await model.release();
        }
      } finally {
        index.close();
      }
    });
}
