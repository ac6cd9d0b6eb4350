// npm run bench:build-memory — peak resident memory of turning a checkpoint into graphs, and of loading them:
//  1. random-weight checkpoints at real sizes, written tensor by tensor in a temporary folder: ViT-B/16 as an
//     open_clip folder, and a SigLIP so400m-patch14-384 transformers folder (MedSigLIP's layout and size, about
//     1.6 GB of float32 per tower);
//  2. each compiled into the graph cache in a child process of its own (resolveModelSource + compileModel),
//     its peak RSS against the checkpoint's size; the goal is under 1.5x;
//  3. each loaded from the cache and a batch of 8 noise images embedded in another child (ClipModel.load +
//     embedPixels), its peak RSS against the image tower's weights plus the batch (pixels in, embeddings out);
//     the goal is under 1.5x. Embedding images starts only the image tower's session (no tokenizer, no text graph:
//     the child reports what the model loaded), so the image tower's weights are what it loads.
// The load+embed child runs twice: on the checkout's sources under tsx, and on a built package with plain Node,
// as the installed `clipmed` runs (tsc into a temporary folder, as `npm run build` makes dist/; or --dist DIR).
// Then `clipmed embed` of 8 X-rays with the ViT-B/16 folder, both ways: what a user's command peaks at (it also
// decodes the files). A child that only imports the library gives each way's baseline (Node, the library and, on the
// sources, tsx), included in every peak; the command's baseline is `clipmed --version`.
// Options: --json, --skip-siglip, --skip-dist, --dist DIR (a built dist/ to use), --keep (leave the temporary folder)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { vitB } from '../src/index.ts';
import { SO400M, measure, writeOpenClipFolder, writeSiglipFolder } from '../test/helpers/build-memory.ts';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const work = mkdtempSync(join(tmpdir(), 'clipmed-build-memory-'));
const MiB = 2 ** 20;
const log = (m: string) => { if (!asJson) process.stderr.write(`${m}\n`); };

/** A built package in the temporary folder: dist/ from tsc (tsconfig.build.json), package.json, node_modules and data/ linked. */
function buildPackage(): string {
  const pkg = join(work, 'package');
  mkdirSync(pkg);
  for (const f of ['package.json', 'node_modules', 'data']) symlinkSync(join(ROOT, f), join(pkg, f));
  log('building the package (tsc -p tsconfig.build.json)');
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc failed: ${(r.stdout + r.stderr).slice(-3000)}`);
  return join(pkg, 'dist');
}

const dist = args.includes('--skip-dist') ? undefined : args.includes('--dist') ? resolve(args[args.indexOf('--dist') + 1]!) : buildPackage();
const ways: Array<{ label: string; dist?: string }> = [{ label: 'sources under tsx' }, ...(dist ? [{ label: 'built package, plain node', dist }] : [])];

interface BuildRow { model: string; checkpointMiB: number; buildRssMiB: number; buildRatio: number }
interface EmbedRow {
  model: string; runAs: string; baselineMiB: number; peakMiB: number; visionMiB: number; batchMiB: number;
  /** the goal: under 1.5 */
  ratio: number;
  /** against the whole checkpoint (both towers) + batch */
  checkpointRatio: number;
  loaded?: unknown;
}
const builds: BuildRow[] = [];
const embeds: EmbedRow[] = [];
const baselines = new Map(ways.map((w) => [w.label, measure('baseline', work, join(work, 'cache-baseline'), 8, w.dist).maxRss / MiB]));

/** Build `folder` into a cache, then load + embed 8 from it each way; returns the cache (kept for the CLI rows). */
function run(model: string, folder: string, bytes: number): string {
  const cache = join(work, `cache-${builds.length}`);
  log(`${model}: building (${(bytes / MiB).toFixed(0)} MiB checkpoint)`);
  const build = measure('build', folder, cache);
  builds.push({ model, checkpointMiB: bytes / MiB, buildRssMiB: build.maxRss / MiB, buildRatio: build.maxRss / bytes });
  // embedding images starts only the image tower's session: its float32 parameters are the weights it loads
  const vision = 4 * Number((build.report.parameters as { vision: number }).vision);
  measure('embed', folder, cache, 8); // the first load makes ONNX Runtime's optimised copy of the graph (src/node/ort-optimized.ts)
  for (const w of ways) {
    log(`${model}: loading and embedding a batch of 8 (${w.label})`);
    const embed = measure('embed', folder, cache, 8, w.dist);
    const batch = Number(embed.report.batchBytes);
    embeds.push({
      model, runAs: `library, ${w.label}`, baselineMiB: baselines.get(w.label)!, peakMiB: embed.maxRss / MiB, visionMiB: vision / MiB, batchMiB: batch / MiB,
      ratio: embed.maxRss / (vision + batch), checkpointRatio: embed.maxRss / (bytes + batch), loaded: embed.report.loaded,
    });
  }
  return cache;
}

/** Peak RSS (bench/report-rss.mjs) of the clipmed command at `entry` (bin/clipmed.js: tsx; a built dist/cli/main.js: plain node), MiB. */
function cliPeak(entry: string, cliArgs: string[], cache: string): number {
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'bench/report-rss.mjs'), entry, ...cliArgs], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, CLIPMED_CACHE: cache }, maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`clipmed ${cliArgs[0]} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return Number(/@@maxrss (\d+)/.exec(r.stderr)![1]) / 1024;
}

/** `clipmed embed` of 8 X-rays each way; its baseline is `clipmed --version` through the same entry. */
function cliEmbed(model: string, folder: string, cache: string, vision: number, bytes: number): void {
  const data = join(ROOT, '../shared/data/pneumonia-cxr/test/NORMAL');
  if (!existsSync(data)) return log(`no ${data}: no clipmed embed rows`);
  const images = readdirSync(data).sort().slice(0, 8).flatMap((f) => ['--image', join(data, f)]);
  const batch = 8 * 3 * 224 * 224 * 4 + 8 * 512 * 4; // as the library rows count it: pixels in, embeddings out
  const entries = [{ label: 'sources under tsx (bin/clipmed.js)', entry: join(ROOT, 'bin/clipmed.js') }, ...(dist ? [{ label: 'built package, plain node', entry: join(dist, 'cli/main.js') }] : [])];
  for (const { label, entry } of entries) {
    log(`${model}: clipmed embed of 8 X-rays (${label})`);
    const peak = cliPeak(entry, ['embed', '--model', folder, '--threads', '2', '--json', ...images], cache) * MiB;
    embeds.push({
      model, runAs: `clipmed embed 8 X-rays, ${label}`, baselineMiB: cliPeak(entry, ['--version'], cache), peakMiB: peak / MiB,
      visionMiB: vision / MiB, batchMiB: batch / MiB, ratio: peak / (vision + batch), checkpointRatio: peak / (bytes + batch),
    });
  }
}

try {
  log(`writing ViT-B/16 (open_clip, random weights)`);
  const vit = join(work, 'vit-b-16');
  const bytes = writeOpenClipFolder(vit, vitB(16));
  const cache = run('ViT-B/16 (open_clip)', vit, bytes);
  cliEmbed('ViT-B/16 (open_clip)', vit, cache, embeds[0]!.visionMiB * MiB, bytes);
  rmSync(cache, { recursive: true, force: true });
  rmSync(vit, { recursive: true, force: true });
  if (!args.includes('--skip-siglip')) {
    log('writing SigLIP so400m-patch14-384 (transformers, random weights)');
    const sig = join(work, 'siglip-so400m');
    const s = writeSiglipFolder(sig, SO400M);
    log(`  vision ${(s.vision / MiB).toFixed(0)} MiB, text ${(s.text / MiB).toFixed(0)} MiB`);
    rmSync(run('SigLIP so400m/14-384 (transformers)', sig, s.bytes), { recursive: true, force: true });
  }
  if (asJson) console.log(JSON.stringify({ baselinesMiB: Object.fromEntries(baselines), builds, embeds }, null, 2));
  else {
    console.log('Building graphs from a checkpoint: peak RSS of a child process (sources under tsx; goal: under 1.5x the checkpoint)');
    console.log('| model | checkpoint MiB | build peak RSS MiB | build / checkpoint |');
    console.log('|---|---:|---:|---:|');
    for (const r of builds) console.log(`| ${r.model} | ${r.checkpointMiB.toFixed(0)} | ${r.buildRssMiB.toFixed(0)} | ${r.buildRatio.toFixed(2)} |`);
    console.log('');
    console.log('Loading the cached graphs and embedding a batch of 8: peak RSS of a child process, its baseline (Node + the library imported, nothing loaded) included.');
    console.log('Embedding images starts the image tower alone; batch = pixels in + embeddings out. Goal: load+embed / (image tower + batch) under 1.5.');
    console.log('| model | run as | baseline MiB | load+embed peak RSS MiB | image tower MiB | batch MiB | peak / (image tower + batch) | peak / (checkpoint + batch) |');
    console.log('|---|---|---:|---:|---:|---:|---:|---:|');
    for (const r of embeds) {
      console.log(`| ${r.model} | ${r.runAs} | ${r.baselineMiB.toFixed(0)} | ${r.peakMiB.toFixed(0)} | ${r.visionMiB.toFixed(0)} | ${r.batchMiB.toFixed(1)} | **${r.ratio.toFixed(2)}** | ${r.checkpointRatio.toFixed(2)} |`);
    }
    const loaded = embeds.filter((r) => r.loaded).map((r) => JSON.stringify(r.loaded));
    console.log(`loaded by the library rows: ${[...new Set(loaded)].join(', ')}`);
  }
} finally {
  if (!args.includes('--keep')) rmSync(work, { recursive: true, force: true });
  else log(`kept ${work}`);
}
