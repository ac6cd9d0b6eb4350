// npm run bench:reference — clipmed's graphs side by side with the references, in one process, interleaved:
//   clipmed fp32, int8 (DynamicQuantizeMatMul) and q4 (MatMulNBits) graphs of ViT-B/16 and ViT-B/32 (random
//   weights made here, exact GELU as in open_clip's configs of the export), ONNX Runtime on PyTorch's own export of open_clip's towers (made by
//   bench/export_open_clip.py), a plain MatMul, and PyTorch itself (timed by the same script, separately).
// Each timed round runs every variant once in turn, so all see the same moments of a noisy machine; a
// variant's speed is the median over rounds of its per-round ratio to clipmed fp32.
// Quantised rows carry their cosine to the fp32 embedding of the same input (a real chest X-ray).
// Options: --threads N (default 2), --runs N (default 7), --export DIR (default .cache/bench-export),
//          --profile (ONNX Runtime's time per op type for each graph), --fp32-only (no int8/q4 rows: a shorter
//          run for comparing the fp32 graph with the export), --json,
//          --model 16|32, --tower image|text, --batch N (only the rows of that model / tower / batch)
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { quantizeModel, type QuantMode } from '../src/graph/quantize.ts';
import { buildTextGraph, buildVisionGraph, ClipTokenizer, GraphBuilder, decodeImageFile, preprocess, randomClipStateDict, vitB, Weights, type ClipConfig } from '../src/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const threads = Number(opt('threads', '2'));
const runs = Number(opt('runs', '7'));
const exportDir = opt('export', '.cache/bench-export');
const profile = args.includes('--profile');
const asJson = args.includes('--json');
const fp32Only = args.includes('--fp32-only');
const onlyModel = opt('model', ''), onlyTower = opt('tower', ''), onlyBatch = opt('batch', '');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Feeds = Record<string, ort.Tensor>;
// `fetch`: the embedding only, as embed and classify ask for it (clipmed's image graphs also have patch outputs)
interface Variant { name: string; session: ort.InferenceSession; model: Uint8Array | string; feeds: (batch: number) => Feeds; fetch: string[]; cosine?: number }

async function session(model: Uint8Array | string, prof = false): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  };
  if (prof) { opts.enableProfiling = true; opts.profileFilePrefix = join(tmpdir(), `clipmed-profile-${process.pid}`); }
  return typeof model === 'string' ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts);
}

function randomFloats(n: number, seed = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin((i + seed) * 12.9898) * 0.5;
  return a;
}

function cosine(a: Float32Array, b: Float32Array, dim: number): number {
  let worst = 1;
  for (let r = 0; r < a.length / dim; r++) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
    worst = Math.min(worst, ab / Math.sqrt(aa * bb));
  }
  return worst;
}

async function first(s: ort.InferenceSession, feeds: Feeds): Promise<Float32Array> {
  const r = await s.run(feeds);
  return r[s.outputNames[0]!]!.data as Float32Array;
}

/** ONNX Runtime's profile of a session just ended: total microseconds per op type, largest first. */
function opTypeTimes(): Array<[string, number]> {
  const prefix = `clipmed-profile-${process.pid}`;
  const found = readdirSync(tmpdir()).filter((f) => f.startsWith(prefix) && f.endsWith('.json'));
  if (found.length !== 1) throw new Error(`expected one ONNX Runtime profile ${prefix}*.json in ${tmpdir()}, found ${found.length}`);
  const file = join(tmpdir(), found[0]!);
  const events = JSON.parse(readFileSync(file, 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
  const byOp = new Map<string, number>();
  for (const e of events) if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.args?.op_name) byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur);
  rmSync(file, { force: true });
  return [...byOp.entries()].sort((a, b) => b[1] - a[1]);
}

interface Row { model: string; what: string; batch: number; variant: string; msPerBatch: number; itemsPerSecond: number; vsFp32: number; vsMatMul: number; cosine?: number }
const rows: Row[] = [];
const profiles: Array<{ graph: string; ops: Array<[string, number]> }> = [];

// the plain MatMul: 1576x768 by 768x3072, one MLP layer of ViT-B/16 at batch 8
const [M, K, N] = [1576, 768, 3072];
const mg = new GraphBuilder('matmul_ref');
mg.output(mg.matmul(mg.input('a', 'float32', [M, K]), mg.weight('w', randomFloats(K * N), [K, N])), 'y', 'float32', [M, N]);
const matmul = await session(mg.toBytes());
const matmulFeeds = { a: new ort.Tensor('float32', randomFloats(M * K, 7), [M, K]) };

async function timeRound(variants: Variant[], batch: number): Promise<Map<string, number[]>> {
  const t = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  t.set('MatMul', []);
  const feeds = variants.map((v) => v.feeds(batch));
  for (const [i, v] of variants.entries()) await v.session.run(feeds[i]!, v.fetch); // warm-up
  await matmul.run(matmulFeeds);
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    await matmul.run(matmulFeeds);
    t.get('MatMul')!.push(performance.now() - t0);
    for (const [i, v] of variants.entries()) {
      t0 = performance.now();
      await v.session.run(feeds[i]!, v.fetch);
      t.get(v.name)!.push(performance.now() - t0);
    }
  }
  return t;
}

function record(model: string, what: string, batch: number, variants: Variant[], t: Map<string, number[]>) {
  const base = t.get('clipmed fp32')!;
  const mm = t.get('MatMul')!;
  for (const v of variants) {
    const ms = t.get(v.name)!;
    rows.push({
      model, what, batch, variant: v.name, msPerBatch: median(ms), itemsPerSecond: (1000 * batch) / median(ms),
      vsFp32: median(ms.map((x, i) => base[i]! / x)), vsMatMul: median(ms.map((x, i) => mm[i]! / x)), cosine: v.cosine,
    });
  }
}

const torchTiming = existsSync(join(exportDir, 'torch_timing.json'))
  ? (JSON.parse(readFileSync(join(exportDir, 'torch_timing.json'), 'utf8')) as { rows: Array<{ model: string; what: string; batch: number; seconds: number }>; threads: number })
  : undefined;

// a real chest X-ray at 224, and its 8 copies shifted, as the image input whose embeddings are compared
const xray = await decodeImageFile('../shared/data/pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');
const onePixel = preprocess([xray], { size: 224, mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711], interpolation: 'bicubic', resizeMode: 'shortest', fillColor: 0 });
const pixels = (batch: number) => {
  const a = new Float32Array(batch * onePixel.length);
  for (let b = 0; b < batch; b++) for (let i = 0; i < onePixel.length; i++) a[b * onePixel.length + i] = onePixel[i]! + 0.01 * b;
  return a;
};

const tokenizer = await ClipTokenizer.load();
const prompts = ['a chest x-ray showing pneumonia', 'no pleural effusion', 'an x-ray of a normal chest', 'cardiomegaly',
  'there is a left lower lobe consolidation', 'no acute cardiopulmonary process', 'pneumothorax', 'an image of atelectasis'];
const toks = tokenizer.tokenize(prompts, 77);
const ids = (batch: number) => {
  const a = new BigInt64Array(batch * 77);
  for (let r = 0; r < batch; r++) for (let j = 0; j < 77; j++) a[r * 77 + j] = BigInt(toks[(r % 8) * 77 + j]!);
  return a;
};

for (const patch of ([16, 32] as const).filter((p) => !onlyModel || String(p) === onlyModel)) {
  // the same model on both sides: open_clip's ViT-B-16 and ViT-B-32 configs (the ones exported) use exact
  // GELU; vitB() is OpenAI's checkpoints' QuickGELU variant
  const cfg: ClipConfig = { ...vitB(patch), act: 'gelu' };
  const model = `ViT-B/${patch}`;
  const w = new Weights(randomClipStateDict(cfg), 'random');
  for (const tower of (['image', 'text'] as const).filter((t) => !onlyTower || t === onlyTower)) {
    const fp32 = tower === 'image' ? buildVisionGraph(cfg, w).bytes : buildTextGraph(cfg, w).bytes;
    const feeds = tower === 'image'
      ? (batch: number): Feeds => ({ pixel_values: new ort.Tensor('float32', pixels(batch), [batch, 3, 224, 224]) })
      : (batch: number): Feeds => ({ input_ids: new ort.Tensor('int64', ids(batch), [batch, 77]) });
    const outName = tower === 'image' ? 'image_embeds' : 'text_embeds';
    const variants: Variant[] = [{ name: 'clipmed fp32', session: await session(fp32), model: fp32, feeds: (b) => feeds(b), fetch: [outName] }];
    const ref = await first(variants[0]!.session, feeds(8));
    for (const mode of (fp32Only ? [] : ['int8', 'q4']) as QuantMode[]) {
      const qBytes = quantizeModel(fp32, mode).bytes;
      const q = await session(qBytes);
      const out = (await q.run(feeds(8)))[outName]!.data as Float32Array;
      variants.push({ name: `clipmed ${mode}`, session: q, model: qBytes, feeds, fetch: [outName], cosine: cosine(ref, out, 512) });
    }
    const exported = join(exportDir, `open_clip_ViT_B_${patch}_${tower}.onnx`);
    if (existsSync(exported)) variants.push({ name: 'ORT on torch.onnx.export', session: await session(exported), model: exported, feeds: (b) => ({ [tower === 'image' ? 'pixel_values' : 'input_ids']: feeds(b)[tower === 'image' ? 'pixel_values' : 'input_ids']! }), fetch: [outName] });
    for (const batch of (tower === 'image' ? [1, 8] : [8, 64]).filter((b) => !onlyBatch || String(b) === onlyBatch)) {
      record(model, tower, batch, variants, await timeRound(variants, batch));
      const torchRow = torchTiming?.rows.find((r) => r.model === `ViT-B-${patch}` && r.what.startsWith(tower) && r.batch === batch);
      if (torchRow) {
        const base = rows.find((r) => r.model === model && r.what === tower && r.batch === batch && r.variant === 'clipmed fp32')!;
        rows.push({ model, what: tower, batch, variant: `PyTorch ${torchTiming!.threads} threads (separate run)`, msPerBatch: torchRow.seconds * 1000, itemsPerSecond: batch / torchRow.seconds, vsFp32: base.msPerBatch / (torchRow.seconds * 1000), vsMatMul: NaN });
      }
    }
    for (const v of variants) {
      await v.session.release();
      if (profile) {
        // one profiled session at a time (ONNX Runtime names its file by prefix and start time), batch 8 or --batch
        const p = await session(v.model, true);
        const pb = onlyBatch ? Number(onlyBatch) : 8;
        for (let r = 0; r < runs; r++) await p.run(v.feeds(pb), v.fetch);
        p.endProfiling();
        profiles.push({ graph: `${model} ${tower} ${v.name}`, ops: opTypeTimes() });
        await p.release();
      }
    }
  }
}
await matmul.release();

if (asJson) {
  console.log(JSON.stringify({ threads, runs, exportDir, rows, profiles }, null, 2));
} else {
  console.log(`clipmed against references: ${threads} threads, median of ${runs} interleaved rounds, onnxruntime-node ${ort.env.versions.common} CPU`);
  if (!existsSync(exportDir)) console.log(`(no PyTorch export in ${exportDir}: run bench/export_open_clip.py ${exportDir} as its header says, for the ORT-on-export and PyTorch rows)`);
  console.log('| model | tower | batch | variant | ms/batch | items/s | speed vs clipmed fp32 | MatMul time / this time | cosine to fp32 |');
  console.log('|---|---|---:|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.model} | ${r.what} | ${r.batch} | ${r.variant} | ${r.msPerBatch.toFixed(1)} | ${r.itemsPerSecond.toFixed(1)} | ${r.vsFp32.toFixed(2)} | ${Number.isNaN(r.vsMatMul) ? '' : r.vsMatMul.toFixed(3)} | ${r.cosine === undefined ? '' : r.cosine.toFixed(5)} |`);
  }
  for (const p of profiles) {
    const total = p.ops.reduce((s, [, d]) => s + d, 0);
    console.log(`\n${p.graph}, ms per run: total ${(total / 1000 / runs).toFixed(1)}; ${p.ops.slice(0, 10).map(([op, d]) => `${op} ${(d / 1000 / runs).toFixed(1)} (${((100 * d) / total).toFixed(1)}%)`).join(', ')}`);
  }
}
