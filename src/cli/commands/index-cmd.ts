// clipmed index: embed an archive into a LanceDB database (one table per model), locally or through workers.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { ConfigError, enqueueShards, listSources, modelSpec, openIndex, openQueue, parseDecodeThreads, queueStatus, waitForShards, addToTable, type AddReport } from '../../index.ts';
import { collect, Failures, loadModel, MODEL_HELP, PROTOCOL_HELP } from '../shared.ts';
import { DECODE_THREADS_HELP } from '../images.ts';

interface IndexOptions {
  db?: string;
  model?: string;
  protocol?: string;
  threads?: string;
  decodeThreads?: string;
  frames?: boolean;
  phi?: boolean;
  window?: string;
  textColumn?: string;
  imageColumn?: string;
  labelColumn?: string;
  queue?: string;
  shardSize: string;
  status?: boolean;
  batchSize: string;
  indexThreshold: string;
  json?: boolean;
  quiet?: boolean;
}

/** A progress bar on stderr with rows/s and time left; silent when stderr is not a terminal or with --quiet. */
export function rateBar(total: number, label: string, quiet = false): { update(done: number, rows: number): void; stop(): void } {
  if (quiet || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} inputs | {rows} rows | {rate} rows/s | {eta_formatted} left`, stream: process.stderr, hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  const start = Date.now();
  bar.start(total, 0, { rows: 0, rate: '0' });
  return {
    update: (done, rows) => bar.update(done, { rows, rate: (rows / Math.max(1e-3, (Date.now() - start) / 1000)).toFixed(1) }),
    stop: () => bar.stop(),
  };
}

export function register(program: Command): void {
  program
    .command('index')
    .description('index images into a searchable archive (LanceDB): normalised embeddings, content hashes, non-identifying metadata; re-runs embed only new or changed inputs')
    .argument('[sources...]', 'image files, folders (recursive), DICOM, NIfTI, manifests (.csv) or dicomweb+http(s):// URLs')
    .option('--db <dir>', 'the database folder (created when missing)')
    .option('-m, --model <source>', MODEL_HELP)
    .option('--protocol <name>', PROTOCOL_HELP)
    .option('--frames', 'one row per frame of multi-frame DICOM (default: first frame)')
    .option('--phi', 'store DICOM study/series/instance UIDs as they are (default: hashed with the database salt)')
    .option('--window <preset|C,W>', 'display window for DICOM and NIfTI: lung, mediastinum, bone, brain, abdomen, or center,width')
    .option('--text-column <name>', "manifest column with each image's report text, indexed for hybrid search")
    .option('--image-column <name>', 'manifest column with the image path', 'image')
    .option('--label-column <name>', 'manifest column with the label (default: label, when present)')
    .option('--queue <redis://HOST:PORT>', 'enqueue the work in shards for `clipmed worker` processes and wait for them')
    .option('--shard-size <n>', 'inputs per queued shard', '256')
    .option('--status', 'show the queue (jobs by state, connected workers) and exit')
    .option('--batch-size <n>', 'inputs per committed batch', '128')
    .option('--index-threshold <n>', 'build the vector index (IVF-PQ) once the table has this many rows', '10000')
    .option('--threads <n>', 'CPU threads (default: all cores)')
    .option('--decode-threads <n>', DECODE_THREADS_HELP)
    .option('--json', 'print a JSON summary: {"table", "model", "inputs", "written", "unchanged", "replaced", "rows", "indexes", "failures", "skipped"}')
    .option('-q, --quiet', 'no progress bar')
    .addHelpText('after', `
An interrupted run (even kill -9) resumes where it stopped: each batch is committed whole, and inputs whose
content hash is already in the table are skipped. Inputs that fail are listed at the end (exit code 1).

Examples:
  clipmed index ../shared/data/pneumonia-cxr --db archive --model ../shared/fixtures/open_clip/tiny-quickgelu
  clipmed index notes.csv --text-column clinical_notes --db archive --model biomedclip
  clipmed index scans/ --db /shared/archive --model biomedclip --queue redis://10.0.0.5:6379
  clipmed index --status --queue redis://10.0.0.5:6379`)
    .action(async (sources: string[], opts: IndexOptions) => {
      if (opts.status) {
        if (!opts.queue) throw new ConfigError('--status needs --queue redis://HOST:PORT');
        const queue = await openQueue(opts.queue);
        try {
          const s = await queueStatus(queue);
          if (opts.json) console.log(JSON.stringify(s));
          else {
            console.log(`queue ${opts.queue} (${s.workers} worker(s) connected)`);
            for (const [state, n] of Object.entries(s.counts)) console.log(`  ${state.padEnd(12)} ${n}`);
          }
        } finally {
          await queue.close();
        }
        return;
      }
      if (!opts.db) throw new ConfigError('--db DIR is required');
      if (!opts.model) throw new ConfigError('--model is required');
      if (sources.length === 0) throw new ConfigError('no sources to index (files, folders, manifests or dicomweb URLs)');
      const batchSize = positive(opts.batchSize, '--batch-size');
      const threshold = positive(opts.indexThreshold, '--index-threshold');
      // checked now; undefined leaves the default, which decodes a small input in place (poolThreads)
      const decodeThreads = opts.decodeThreads === undefined ? undefined : parseDecodeThreads(opts.decodeThreads);
      // what search and workers load the model from: an absolute path for a local model
      const modelSource = existsSync(opts.model) ? resolve(opts.model) : opts.model;
      const model = await loadModel({ model: modelSource, threads: opts.threads, protocol: opts.protocol });
      const index = await openIndex(opts.db);
      const failures = new Failures();
      try {
        const spec = modelSpec(model, modelSource, opts.protocol);
        const table = await index.tableFor(spec);
        const listed = await listSources(sources, { textColumn: opts.textColumn, imageColumn: opts.imageColumn, labelColumn: opts.labelColumn });
        for (const f of listed.failures) failures.items.push(f);
        const addOpts = { frames: opts.frames, phi: opts.phi, window: opts.window, batchSize };
        const bar = rateBar(listed.items.length, 'indexing', opts.quiet);
        let report: AddReport;
        if (opts.queue) {
          const queue = await openQueue(opts.queue);
          try {
            const { jobIds, joined } = await enqueueShards(queue, { db: resolve(opts.db), model: modelSource, protocol: opts.protocol, specHash: spec.specHash, options: addOpts }, listed.items, positive(opts.shardSize, '--shard-size'));
            if (joined > 0) process.stderr.write(`clipmed: ${joined} shard(s) of an earlier run are still queued or running; waiting for them\n`);
            if ((await queueStatus(queue)).workers === 0) process.stderr.write(`clipmed: ${jobIds.length} shard(s) queued; no worker is connected yet (start some with: clipmed worker --queue ${opts.queue})\n`);
            const outcomes = await waitForShards(queue, jobIds, (done) => bar.update(done, done));
            report = { inputs: listed.items.length, written: 0, unchanged: 0, replaced: 0, failures: [], skipped: [] };
            for (const o of outcomes) {
              if (o.result) {
                report.written += o.result.written;
                report.unchanged += o.result.unchanged;
                report.replaced += o.result.replaced;
                report.failures.push(...o.result.failures);
                report.skipped.push(...o.result.skipped);
              } else {
                report.failures.push({ input: `shard ${o.id}`, error: o.error ?? 'failed' });
              }
            }
          } finally {
            await queue.close();
          }
        } else {
          report = await addToTable(table, model, index.salt, listed.items, { ...addOpts, decodeThreads, onProgress: (p) => bar.update(p.done, p.rows) });
        }
        bar.stop();
        report.skipped.unshift(...listed.skipped); // what the folder walk could not read (broken links, loops, names that are not UTF-8)
        for (const f of report.failures) failures.items.push(f);
        const indexes = await table.buildIndexes(threshold);
        const rows = await table.count();
        if (opts.json) {
          console.log(JSON.stringify({ table: table.name, model: spec.model, specHash: spec.specHash, inputs: report.inputs, written: report.written, unchanged: report.unchanged, replaced: report.replaced, rows, indexes, failures: failures.items, skipped: report.skipped }));
        } else {
          console.log(`${table.name} (${spec.model}): ${report.written} rows written, ${report.unchanged} inputs unchanged, ${report.replaced} replaced; ${rows} rows in the table`);
          for (const d of indexes) console.log(`  built ${d}`);
          if (report.skipped.length > 0) console.log(`  ${report.skipped.length} file(s) in folders skipped (not images, or not readable; --json lists them with why)`);
        }
        failures.report();
      } finally {
        index.close();
        await model.release();
      }
    });
}

function positive(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${name} must be a positive integer, got '${v}'`);
  return n;
}
