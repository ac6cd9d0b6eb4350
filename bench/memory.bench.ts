// npm run bench:memory — the whole command against the graph it runs:
//  1. peak RSS of `clipmed classify` over 100, 1,000 and 5,840 chest X-rays (the pediatric set, train + test),
//     with clipmed's own demo model (models/clipmed-cxr-tiny): it must stay flat as the count grows, because
//     images stream through in bounded chunks.
//  2. images/s of `clipmed classify`, `clipmed embed` (batch 8) and `clipmed index` (its ingest embeds 32 at a
//     time) over the 624 test X-rays against the graph's own images/s at the same batch (ViT-B/16 with random
//     weights, written here as an open_clip folder), and their peak RSS at 64 and at 624 images: decoding and
//     preprocessing (in worker threads) should hide behind inference, and memory should not grow with the count.
// Options: --threads N (default 2), --json, --skip-vit, --skip-memory, --commands classify,embed,index (the default)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

interface Run { seconds: number; maxRssMiB: number; results: number }

/** Run `clipmed <args>` in a child with its peak RSS reported; seconds, MiB, and what `count` finds in its JSON. */
function clipmed(args: string[], count: (out: Record<string, unknown>) => number): Run {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'bench/report-rss.mjs'), join(ROOT, 'bin/clipmed.js'), ...args, '--json', '--threads', String(threads)], {
    encoding: 'utf8', cwd: ROOT, env: { ...process.env, CLIPMED_CACHE: cache }, maxBuffer: 1 << 30,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`clipmed ${args[0]} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const rss = /@@maxrss (\d+)/.exec(r.stderr);
  return { seconds, maxRssMiB: rss ? Number(rss[1]) / 1024 : NaN, results: count(JSON.parse(r.stdout) as Record<string, unknown>) };
}

/** `clipmed classify` over a folder. */
function classify(model: string, folder: string, extra: string[] = []): Run {
  return clipmed(['classify', '--model', model, '--labels', 'normal,pneumonia', ...extra, folder], (o) => (o.results as unknown[]).length);
}

/** `clipmed embed` of each file in a folder, as --image arguments. */
function embed(model: string, folder: string, extra: string[] = []): Run {
  const files = readdirSync(folder).sort().flatMap((f) => ['--image', join(folder, f)]);
  return clipmed(['embed', '--model', model, ...extra, ...files], (o) => (o.images as unknown[]).length);
}

/** `clipmed index` of the files a folder links to (index walks folders without following links) into a new database. */
function index(model: string, folder: string, extra: string[] = []): Run {
  const db = mkdtempSync(join(work, 'db-'));
  const files = readdirSync(folder).sort().map((f) => realpathSync(join(folder, f)));
  try {
    return clipmed(['index', '--model', model, '--db', db, '--quiet', ...extra, ...files], (o) => o.written as number);
  } finally {
    rmSync(db, { recursive: true, force: true });
  }
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
  const eight = folderOf(8, test);
  const some = folderOf(64, test); // more than a batch of each command: its session's memory at that batch
  classify(vit, eight); // compile
  // the graph alone at a command's batch, in this process with the same threads, right after the command (the
  // model is loaded only for this, so that its session's threads are gone while a command runs)
  process.env.CLIPMED_CACHE = cache;
  const graphIps = async (batch: number, reps: number): Promise<number> => {
    const m = await ClipModel.load(vit, { threads });
    try {
      const pixels = new Float32Array(batch * 3 * 224 * 224).map((_, i) => Math.sin(i) * 0.5);
      await m.embedPixels(pixels, batch, { batchSize: batch });
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await m.embedPixels(pixels, batch, { batchSize: batch });
      return (reps * batch) / ((performance.now() - t0) / 1000);
    } finally {
      await m.release();
    }
  };
  const commands: Array<{ name: string; batch: number; run: (folder: string) => Run }> = [
    { name: 'classify', batch: 8, run: (f) => classify(vit, f, ['--batch-size', '8']) },
    { name: 'embed', batch: 8, run: (f) => embed(vit, f, ['--batch-size', '8']) },
    { name: 'index', batch: 32, run: (f) => index(vit, f) },
  ];
  const wanted = args.includes('--commands') ? args[args.indexOf('--commands') + 1]!.split(',') : commands.map((c) => c.name);
  for (const c of commands.filter((x) => wanted.includes(x.name))) {
    const small = c.run(some); // start-up, model load (and prompts, the table): the fixed cost, and the RSS to compare
    const cmd = c.run(folder);
    const graph = await graphIps(c.batch, c.batch === 8 ? 10 : 3);
    const ips = cmd.results / cmd.seconds;
    rows.push({ part: `${c.name} vs graph, batch ${c.batch}`, model: 'ViT-B/16 (random)', images: cmd.results, seconds: cmd.seconds, imagesPerSecond: ips, graphImagesPerSecond: graph, ratio: ips / graph, maxRssMiB: cmd.maxRssMiB, smallRssMiB: small.maxRssMiB });
    // the same without the fixed cost: the images after the first 64, over the time they added
    const marginal = (cmd.results - small.results) / (cmd.seconds - small.seconds);
    rows.push({ part: `${c.name} vs graph, fixed cost removed`, model: 'ViT-B/16 (random)', images: cmd.results - small.results, seconds: cmd.seconds - small.seconds, imagesPerSecond: marginal, graphImagesPerSecond: graph, ratio: marginal / graph });
  }
}
rmSync(work, { recursive: true, force: true });

if (asJson) console.log(JSON.stringify({ threads, rows }, null, 2));
else {
  console.log(`clipmed classify, embed and index, whole commands (decode, preprocess, embed, score or write; process start and model load included), ${threads} threads`);
  console.log('| part | model | images | s | images/s | graph images/s | command / graph | peak RSS MiB | peak RSS MiB at 64 images |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const f = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '');
    console.log(`| ${r.part} | ${r.model} | ${r.images} | ${f(r.seconds)} | ${f(r.imagesPerSecond)} | ${f(r.graphImagesPerSecond)} | ${f(r.ratio, 2)} | ${f(r.maxRssMiB, 0)} | ${f(r.smallRssMiB, 0)} |`);
  }
}
