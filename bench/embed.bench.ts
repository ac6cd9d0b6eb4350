// npm run bench: image and text embedding throughput for real-size ViT-B/16 and ViT-B/32 CLIP graphs
// (random weights made here), 2 threads, fp32, beside a plain ONNX Runtime MatMul timed in the same run
// (1576x768 by 768x3072: one MLP layer of ViT-B/16 at batch 8) so that a noisy machine shows as such.
// Options: --threads N (default 2), --runs N (default 7), --json
import { performance } from 'node:perf_hooks';
import { GraphBuilder } from '../src/graph/builder.ts';
import { buildTextGraph, buildVisionGraph } from '../src/models/clip-towers.ts';
import { randomClipStateDict, vitB } from '../src/models/random-weights.ts';
import { Weights } from '../src/models/weights.ts';
import { nodeBackend } from '../src/node/ort-backend.ts';
import type { Session } from '../src/runtime/session.ts';
import { ClipTokenizer } from '../src/text/clip-bpe.ts';
import '../src/node/tokenizer-files.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const threads = opt('threads', 2);
const runs = opt('runs', 7);
const asJson = args.includes('--json');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Time `fn` and the reference MatMul alternately, `runs` times after a warm-up of each, so that both see the
 * same moments of a noisy machine; medians of each, and the median of the per-pair GFLOP/s ratios.
 */
async function timePaired(fn: () => Promise<unknown>, flops: number): Promise<{ seconds: number; gflops: number; matmulGflops: number; ratio: number }> {
  await fn();
  await reference.run();
  const t: number[] = [];
  const ref: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r0 = performance.now();
    await reference.run();
    const rs = (performance.now() - r0) / 1000;
    const t0 = performance.now();
    await fn();
    const ts = (performance.now() - t0) / 1000;
    t.push(ts);
    ref.push(reference.flops / rs / 1e9);
    ratios.push(flops / ts / (reference.flops / rs));
  }
  const seconds = median(t);
  return { seconds, gflops: flops / seconds / 1e9, matmulGflops: median(ref), ratio: median(ratios) };
}

function randomFloats(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898) * 0.5;
  return a;
}

/** A plain MatMul as ONNX Runtime runs it: 1576x768 by 768x3072, one MLP layer of ViT-B/16 at batch 8. */
async function matmulReference(): Promise<{ run: () => Promise<unknown>; flops: number; release: () => Promise<void> }> {
  const [M, K, N] = [1576, 768, 3072];
  const g = new GraphBuilder('matmul_ref');
  const a = g.input('a', 'float32', [M, K]);
  g.output(g.matmul(a, g.weight('w', randomFloats(K * N), [K, N])), 'y', 'float32', [M, N]);
  const s = await nodeBackend.create(g.toBytes(), { threads });
  const data = randomFloats(M * K);
  return { run: () => s.run({ a: { data, dims: [M, K] } }), flops: 2 * M * K * N, release: () => s.release() };
}

interface Row { model: string; what: string; batch: number; seconds: number; itemsPerSecond: number; gflops: number; matmulGflops: number; ratio: number }

/** Multiply-add FLOPs (x2) of one transformer stack over `t` tokens: projections, MLP and attention. */
function stackFlops(t: number, width: number, layers: number, mlp: number): number {
  return layers * 2 * (t * (4 * width * width + 2 * width * mlp) + 2 * t * t * width);
}
const visionFlops = (patch: number) => {
  const g = 224 / patch;
  return 2 * g * g * 3 * patch * patch * 768 + stackFlops(g * g + 1, 768, 12, 3072) + 2 * 768 * 512;
};
const textFlops = (len: number) => stackFlops(len, 512, 12, 2048) + 2 * 512 * 512;
const rows: Row[] = [];

async function benchModel(patch: 16 | 32, tokenizer: ClipTokenizer) {
  const cfg = vitB(patch);
  const name = `ViT-B/${patch}`;
  const w = new Weights(randomClipStateDict(cfg), 'random');
  const vision = await nodeBackend.create(buildVisionGraph(cfg, w).bytes, { threads });
  const text = await nodeBackend.create(buildTextGraph(cfg, w).bytes, { threads });
  for (const batch of [1, 8]) {
    const pixels = randomFloats(batch * 3 * 224 * 224);
    const r = await timePaired(() => vision.run({ pixel_values: { data: pixels, dims: [batch, 3, 224, 224] } }, ['image_embeds']), batch * visionFlops(patch));
    rows.push({ model: name, what: batch === 1 ? 'image (latency)' : 'image', batch, itemsPerSecond: batch / r.seconds, ...r });
  }
  const prompts = ['a chest x-ray showing pneumonia', 'no pleural effusion', 'an x-ray of a normal chest', 'cardiomegaly',
    'there is a left lower lobe consolidation', 'no acute cardiopulmonary process', 'pneumothorax', 'an image of atelectasis'];
  const toks = tokenizer.tokenize(prompts, 77);
  const cut = Math.max(...prompts.map((_, r) => toks.subarray(r * 77, (r + 1) * 77).indexOf(49407) + 1));
  // batch 8, and 64: the library's default text batch (a zero-shot classifier embeds classes x templates at once)
  for (const batch of [8, 64]) {
    for (const [what, len] of [['text (77 tokens)', 77], [`text (cut to ${cut})`, cut]] as const) {
      const ids = new BigInt64Array(batch * len);
      for (let r = 0; r < batch; r++) for (let j = 0; j < len; j++) ids[r * len + j] = BigInt(toks[(r % 8) * 77 + j]!);
      const r = await timePaired(() => text.run({ input_ids: { data: ids, dims: [batch, len] } }), batch * textFlops(len));
      rows.push({ model: name, what, batch, itemsPerSecond: batch / r.seconds, ...r });
    }
  }
  await release(vision, text);
}

async function release(...s: Session[]) {
  for (const x of s) await x.release();
}

const reference = await matmulReference();
const tokenizer = await ClipTokenizer.load();
for (const p of [16, 32] as const) await benchModel(p, tokenizer);

if (asJson) {
  console.log(JSON.stringify({ threads, runs, rows }, null, 2));
} else {
  console.log(`clipmed embedding benchmark: fp32, ${threads} threads, median of ${runs} runs, onnxruntime-node CPU`);
  console.log('| model | what | batch | ms/batch | items/s | model GFLOP/s | ref MatMul GFLOP/s (interleaved) | median ratio |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.model} | ${r.what} | ${r.batch} | ${(r.seconds * 1000).toFixed(1)} | ${r.itemsPerSecond.toFixed(1)} | ${r.gflops.toFixed(0)} | ${r.matmulGflops.toFixed(0)} | ${r.ratio.toFixed(2)} |`);
  }
  for (const m of ['ViT-B/16', 'ViT-B/32']) {
    for (const batch of [8, 64]) {
      const full = rows.find((r) => r.model === m && r.batch === batch && r.what === 'text (77 tokens)')!;
      const cut = rows.find((r) => r.model === m && r.batch === batch && r.what.startsWith('text (cut'))!;
      console.log(`${m}, batch ${batch}: short prompts cut to their end token are ${(cut.itemsPerSecond / full.itemsPerSecond).toFixed(1)}x faster than at 77 positions`);
    }
  }
}
