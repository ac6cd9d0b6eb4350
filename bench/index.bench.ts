// npm run bench:index: what the archive costs.
//  1. `clipmed index` against `clipmed embed --normalize` on the same images (the pediatric X-rays, tiny fixture
//     model): rows/s of each and their ratio (the index should cost little beyond embedding).
//  2. the same images through Redis with 1, 2 and 4 `clipmed worker` processes: rows/s, and whether the rows
//     equal the single-process table.
//  3. search latency p50/p99 at 10k and 100k rows (synthetic unit vectors, dim 32, clustered): the IVF-PQ
//     index and exact brute force, with recall@10 of the index.
//  4. database size per row.
// Options: --images N (default: all 5,840), --workers 1,2,4 (empty to skip), --queries N (default 100), --json
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gaussian, mulberry32, openIndex, type IndexRow } from '../src/index.ts';
import { startRedis } from '../test/helpers/redis.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const asJson = args.includes('--json');
const ROOT = new URL('..', import.meta.url).pathname;
const SHARED = join(ROOT, '../shared');
const BIN = join(ROOT, 'bin/clipmed.js');
const model = join(SHARED, 'fixtures/open_clip/tiny-quickgelu');
const data = join(SHARED, 'data/pneumonia-cxr');
const cache = mkdtempSync(join(tmpdir(), 'clipmed-bench-cache-'));
const env = { ...process.env, CLIPMED_CACHE: cache };
const log = (m: string) => process.stderr.write(`${m}\n`);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.jpeg') ? [join(dir, e.name)] : []));
}

function du(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? du(p) : statSync(p).size;
  }
  return n;
}

function run(...a: string[]): { seconds: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...a], { env, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`clipmed ${a[0]} failed (${r.status}): ${r.stderr}`);
  return { seconds: (performance.now() - t0) / 1000, stdout: r.stdout };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const images = walk(data).slice(0, Number(opt('images', '100000')));
const results: Record<string, unknown> = { images: images.length };

// warm the graph cache so that neither side pays the conversion
run('embed', '--model', model, '--text', 'warm-up');

// ---- 1. index vs embed
log(`embedding ${images.length} images with clipmed embed, then indexing them with clipmed index ...`);
const embed = run('embed', '--model', model, '--normalize', '--json', '--threads', '1', ...images.flatMap((p) => ['--image', p]));
const dir = mkdtempSync(join(tmpdir(), 'clipmed-bench-index-'));
const single = join(dir, 'single');
const index = run('index', ...images, '--db', single, '--model', model, '--threads', '1', '--json', '--quiet');
const summary = JSON.parse(index.stdout);
const embedRate = images.length / embed.seconds;
const indexRate = summary.written / index.seconds;
results.indexVsEmbed = { embedSeconds: embed.seconds, embedRowsPerSecond: embedRate, indexSeconds: index.seconds, indexRowsPerSecond: indexRate, ratio: indexRate / embedRate };
const size = du(single);
results.dbBytesPerRow = { images: size / summary.rows };

// ---- 2. workers through Redis
const workerCounts = opt('workers', '1,2,4').split(',').filter((s) => s !== '').map(Number);
if (workerCounts.length > 0) {
  const redis = await startRedis();
  const refIndex = await openIndex(single);
  const ref = await (await refIndex.pickTable()).allVectors();
  refIndex.close();
  const refMap = new Map(ref.paths.map((p, i) => [p, i]));
  const rows: Array<{ workers: number; seconds: number; rowsPerSecond: number; sameRows: boolean; maxDiff: number }> = [];
  try {
    for (const n of workerCounts) {
      const workers = Array.from({ length: n }, () => spawn(process.execPath, [BIN, 'worker', '--queue', redis.url, '--threads', '1', '--quiet'], { env, stdio: 'ignore' }));
      await new Promise((r) => setTimeout(r, 4000)); // let them start (tsx, model graphs) before the clock runs
      const db = join(dir, `workers-${n}`);
      const r = run('index', ...images, '--db', db, '--model', model, '--queue', redis.url, '--shard-size', '128', '--json', '--quiet');
      await Promise.all(workers.map((w) => new Promise((res) => { w.once('exit', res); w.kill('SIGTERM'); })));
      const idx = await openIndex(db);
      const got = await (await idx.pickTable()).allVectors();
      idx.close();
      const D = got.vectors.length / Math.max(1, got.paths.length);
      let maxDiff = 0;
      let same = got.paths.length === ref.paths.length && new Set(got.paths).size === got.paths.length;
      got.paths.forEach((p, i) => {
        const j = refMap.get(p);
        if (j === undefined) same = false;
        else for (let d = 0; d < D; d++) maxDiff = Math.max(maxDiff, Math.abs(got.vectors[i * D + d]! - ref.vectors[j * D + d]!));
      });
      rows.push({ workers: n, seconds: r.seconds, rowsPerSecond: JSON.parse(r.stdout).written / r.seconds, sameRows: same && maxDiff <= 1e-6, maxDiff });
      log(`  ${n} worker(s): ${rows.at(-1)!.rowsPerSecond.toFixed(1)} rows/s`);
    }
  } finally {
    await redis.stop();
  }
  results.workers = rows;
}

// ---- 3. search latency, 4. size per row at 10k and 100k synthetic rows
const D = 32;
const Q = Number(opt('queries', '100'));
const search: Array<Record<string, number>> = [];
for (const n of [10_000, 100_000]) {
  log(`search latency at ${n} rows ...`);
  const rand = mulberry32(n);
  const centres = Array.from({ length: 100 }, () => Array.from({ length: D }, () => gaussian(rand)));
  const rowsOut: IndexRow[] = [];
  for (let i = 0; i < n; i++) {
    const v = Float32Array.from(centres[i % 100]!, (x) => x + 0.6 * gaussian(rand));
    const norm = Math.hypot(...v);
    for (let j = 0; j < D; j++) v[j]! /= norm;
    rowsOut.push({ path: `synthetic/${i}`, source: `synthetic/${i}`, frame: 0, contentHash: String(i), vector: v, modality: 'CR' });
  }
  const sdir = join(dir, `synthetic-${n}`);
  const idx = await openIndex(sdir);
  const table = await idx.tableFor({ specHash: 'b'.repeat(64), model: 'synthetic', checkpointSha256: '0'.repeat(64), dim: D });
  for (let i = 0; i < n; i += 25_000) await table.write(rowsOut.slice(i, i + 25_000));
  const t0 = performance.now();
  await table.buildIndexes(10_000);
  const buildSeconds = (performance.now() - t0) / 1000;
  const ann: number[] = [];
  const exact: number[] = [];
  let hits = 0;
  for (let q = 0; q < Q; q++) {
    const query = rowsOut[Math.floor(rand() * n)]!.vector;
    let s = performance.now();
    const a = await table.search(query, { k: 10 });
    ann.push(performance.now() - s);
    s = performance.now();
    const e = await table.search(query, { k: 10, exact: true });
    exact.push(performance.now() - s);
    const want = new Set(e.map((h) => h.path));
    hits += a.filter((h) => want.has(h.path)).length;
  }
  idx.close();
  search.push({ rows: n, indexBuildSeconds: buildSeconds, annP50Ms: pct(ann, 50), annP99Ms: pct(ann, 99), exactP50Ms: pct(exact, 50), exactP99Ms: pct(exact, 99), recallAt10: hits / (10 * Q), bytesPerRow: du(sdir) / n });
}
results.search = search;

if (asJson) console.log(JSON.stringify(results, null, 1));
else {
  const f = (x: number, d = 1) => x.toFixed(d);
  const ie = results.indexVsEmbed as Record<string, number>;
  console.log(`clipmed index vs clipmed embed --normalize, ${images.length} X-rays, tiny fixture model, 1 thread (wall time, start-up included)`);
  console.log(`  embed  ${f(ie.embedSeconds!)} s  ${f(ie.embedRowsPerSecond!)} rows/s`);
  console.log(`  index  ${f(ie.indexSeconds!)} s  ${f(ie.indexRowsPerSecond!)} rows/s   ratio index/embed ${f(ie.ratio!, 2)}`);
  console.log(`  database: ${f((results.dbBytesPerRow as { images: number }).images, 0)} bytes per row (dim 32, no vector index)`);
  if (results.workers) {
    console.log('workers through Redis (same images)');
    for (const w of results.workers as Array<Record<string, number | boolean>>) console.log(`  ${w.workers} worker(s): ${f(w.rowsPerSecond as number)} rows/s in ${f(w.seconds as number)} s, rows equal one process: ${w.sameRows} (max diff ${(w.maxDiff as number).toExponential(1)})`);
  }
  console.log('search, k = 10, dim 32 (IVF-PQ + exact re-ranking vs brute force)');
  for (const s of search) console.log(`  ${s.rows} rows: index p50 ${f(s.annP50Ms!, 2)} ms p99 ${f(s.annP99Ms!, 2)} ms, exact p50 ${f(s.exactP50Ms!, 2)} ms p99 ${f(s.exactP99Ms!, 2)} ms, recall@10 ${f(s.recallAt10!, 3)}, build ${f(s.indexBuildSeconds!)} s, ${f(s.bytesPerRow!, 0)} bytes/row`);
}
