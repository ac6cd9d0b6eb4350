// npm run bench:memory — the whole command against the graph it runs:
//  1. peak RSS of `clipmed classify` over 100, 1,000 and 5,840 chest X-rays (the pediatric set, train + test),
//     with clipmed's own demo model (models/clipmed-cxr-tiny): it must stay flat as the count grows, because
//     images stream through in bounded chunks.
//  2. images/s of `clipmed classify` over the 624 test X-rays against the graph's own images/s at the same batch
//     (ViT-B/16 with random weights, written here as an open_clip folder), and its peak RSS: decoding and
//     preprocessing should hide behind inference.
// Options: --threads N (default 2), --json, --skip-vit, --skip-memory
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ClipModel, randomClipStateDict, vitB, writeSafetensors } from '../src/index.ts';

const args = process.argv.slice(2);
const threads = args.includes('--threads') ? Number(args[args.indexOf('--threads') + 1]) : 2;
const asJson = args.includes('--json');
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const DATA = resolve(ROOT, '../shared/data/pneumonia-cxr');
const work = mkdtempSync(join(tmpdir(), 'clipmed-membench-'));
const cache = join(work, 'cache');

function images(split: string): string[] {
  const out: string[] = [];
  for (const cls of ['NORMAL', 'PNEUMONIA']) for (const f of readdirSync(join(DATA, split, cls)).sort()) out.push(join(DATA, split, cls, f));
  return out;
}
const all = [...images('train'), ...images('test')];

/** A folder of links to the first n images. */
function folderOf(n: number, list = all): string {
  const dir = join(work, `images-${n}-${list.length}`);
  if (existsSync(dir)) return dir;
  mkdirSync(dir, { recursive: true });
  for (const [i, f] of list.slice(0, n).entries()) symlinkSync(f, join(dir, `${String(i).padStart(5, '0')}.jpeg`));
  return dir;
}

/** Run `clipmed classify` in a child with its peak RSS reported; seconds and MiB. */
function classify(model: string, folder: string, extra: string[] = []): { seconds: number; maxRssMiB: number; results: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'bench/report-rss.mjs'), join(ROOT, 'bin/clipmed.js'), 'classify', '--model', model, '--labels', 'normal,pneumonia', '--json', '--threads', String(threads), ...extra, folder], {
    encoding: 'utf8', cwd: ROOT, env: { ...process.env, CLIPMED_CACHE: cache }, maxBuffer: 1 << 28,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`classify failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const rss = /@@maxrss (\d+)/.exec(r.stderr);
  return { seconds, maxRssMiB: rss ? Number(rss[1]) / 1024 : NaN, results: (JSON.parse(r.stdout) as { results: unknown[] }).results.length };
}

const rows: Array<Record<string, unknown>> = [];
const demo = join(ROOT, 'models/clipmed-cxr-tiny');
if (!args.includes('--skip-memory')) {
  classify(demo, folderOf(8)); // compile the graphs once, outside the measurements
  for (const n of [100, 1000, all.length]) {
    const r = classify(demo, folderOf(n));
    rows.push({ part: 'memory', model: 'clipmed-cxr-tiny', images: r.results, seconds: r.seconds, imagesPerSecond: r.results / r.seconds, maxRssMiB: r.maxRssMiB });
  }
}

if (!args.includes('--skip-vit')) {
  // ViT-B/16 with random weights in the open_clip layout, so that the graph (not decoding) is the work
  const vit = join(work, 'vit-b-16');
  mkdirSync(vit);
  const cfg = vitB(16);
  writeFileSync(join(vit, 'open_clip_model.safetensors'), writeSafetensors(randomClipStateDict(cfg)));
  writeFileSync(join(vit, 'open_clip_config.json'), JSON.stringify({
    model_cfg: { embed_dim: 512, quick_gelu: true, vision_cfg: { image_size: 224, layers: 12, width: 768, patch_size: 16 }, text_cfg: { context_length: 77, vocab_size: 49408, width: 512, heads: 8, layers: 12 } },
    preprocess_cfg: {},
  }));
  const test = images('test');
  const folder = folderOf(test.length, test);
  classify(vit, folderOf(8, test)); // compile
  const small = classify(vit, folderOf(8, test), ['--batch-size', '8']); // start-up, model load and prompts: the fixed cost
  const cmd = classify(vit, folder, ['--batch-size', '8']);
  // the graph alone at batch 8, in this process with the same threads
  process.env.CLIPMED_CACHE = cache;
  const m = await ClipModel.load(vit, { threads });
  const pixels = new Float32Array(8 * 3 * 224 * 224).map((_, i) => Math.sin(i) * 0.5);
  await m.embedPixels(pixels, 8);
  const t0 = performance.now();
  const reps = 10;
  for (let i = 0; i < reps; i++) await m.embedPixels(pixels, 8, { batchSize: 8 });
  const graphIps = (reps * 8) / ((performance.now() - t0) / 1000);
  await m.release();
  const ips = cmd.results / cmd.seconds;
  rows.push({ part: 'command vs graph', model: 'ViT-B/16 (random)', images: cmd.results, seconds: cmd.seconds, imagesPerSecond: ips, graphImagesPerSecond: graphIps, ratio: ips / graphIps, maxRssMiB: cmd.maxRssMiB });
  // the same without the fixed cost: the images after the first 8, over the time they added
  const marginal = (cmd.results - small.results) / (cmd.seconds - small.seconds);
  rows.push({ part: 'command vs graph, fixed cost removed', model: 'ViT-B/16 (random)', images: cmd.results - small.results, seconds: cmd.seconds - small.seconds, imagesPerSecond: marginal, graphImagesPerSecond: graphIps, ratio: marginal / graphIps });
}
rmSync(work, { recursive: true, force: true });

if (asJson) console.log(JSON.stringify({ threads, rows }, null, 2));
else {
  console.log(`clipmed classify, whole command (decode, preprocess, embed, score; process start and model load included), ${threads} threads`);
  console.log('| part | model | images | s | images/s | graph images/s | command / graph | peak RSS MiB |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const f = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '');
    console.log(`| ${r.part} | ${r.model} | ${r.images} | ${f(r.seconds)} | ${f(r.imagesPerSecond)} | ${f(r.graphImagesPerSecond)} | ${f(r.ratio, 2)} | ${f(r.maxRssMiB, 0)} |`);
  }
}
