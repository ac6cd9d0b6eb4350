// The clipmed side of the one-shot GPU check (bench/gpu-check.sh runs it on a lent GPU machine; NOT RUN YET on a
// GPU: no session so far had one). Usage:
//   node --import tsx bench/gpu-check.ts OUT_DIR [--runs N] [--devices cpu,webgpu,cuda] [--batches 8,64] [--threads N]
// (on the GPU machine: the esbuild bundle that bench/gpu-pack.mjs makes of this file).
//  1. OUT_DIR/vitb16/: open_clip's ViT-B-16 (exact GELU) with clipmed's random weights (randomClipStateDict, seed 1)
//     as an open_clip folder (open_clip_config.json + open_clip_model.safetensors), so that clipmed loads it the
//     way users' checkpoints load and bench/gpu_check_torch.py runs the same weights in PyTorch.
//  2. OUT_DIR/pixels.f32: 64 preprocessed 224x224 images ([64, 3, 224, 224] float32, deterministic).
//  3. For cpu fp32 (the reference), then webgpu and cuda with --dtype fp32 and fp16 (half-precision compute there,
//     src/graph/half.ts): ClipModel.load + embedPixels
//     (the product path, graph cache in OUT_DIR/cache): the first 8 images' embeddings (not normalised) against cpu fp32 (smallest
//     cosine, largest relative error), and images/s at batch 8 and 64 (one session run per batch; median of --runs
//     timed runs after one warm-up; host-to-device copies included, as users see them). A device that cannot start records clipmed's error message instead.
//  Writes OUT_DIR/clipmed.json and OUT_DIR/cpu_fp32.f32 (the reference embeddings of the first 8 images).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeSafetensors } from '../src/checkpoint/safetensors.ts';
import { ClipModel } from '../src/node/clip-model.ts';
import { randomClipStateDict, vitB } from '../src/models/random-weights.ts';
import type { Device } from '../src/runtime/backends.ts';
import type { DType } from '../src/node/quantized.ts';

const args = process.argv.slice(2);
const out = args[0];
if (!out || out.startsWith('--')) {
  console.error('usage: gpu-check OUT_DIR [--runs N] [--devices cpu,webgpu,cuda] [--batches 8,64] [--threads N]');
  process.exit(2);
}
const opt = (name: string, dflt: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : dflt);
const runs = Number(opt('runs', '5'));
const devices = opt('devices', 'cpu,webgpu,cuda').split(',') as Device[];
const batches = opt('batches', '8,64').split(',').map(Number);
const N = 64, S = 224, DIM = 512, CHECK = 8;
mkdirSync(out, { recursive: true });
process.env.CLIPMED_CACHE = join(out, 'cache');

// 1. the model folder
const folder = join(out, 'vitb16');
if (!existsSync(join(folder, 'open_clip_model.safetensors'))) {
  mkdirSync(folder, { recursive: true });
  const config = {
    model_cfg: {
      embed_dim: 512,
      vision_cfg: { image_size: S, layers: 12, width: 768, patch_size: 16 },
      text_cfg: { context_length: 77, vocab_size: 49408, width: 512, heads: 8, layers: 12 },
    },
    preprocess_cfg: { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711], interpolation: 'bicubic', resize_mode: 'shortest' },
  };
  writeFileSync(join(folder, 'open_clip_config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(folder, 'open_clip_model.safetensors'), writeSafetensors(randomClipStateDict({ ...vitB(16), act: 'gelu' }, 1)));
}

// 2. the images: smooth deterministic values in the range of normalised pixels
const pixels = new Float32Array(N * 3 * S * S);
for (let i = 0; i < pixels.length; i++) pixels[i] = Math.sin(i * 0.0137 + Math.floor(i / (3 * S * S)) * 0.71) * 1.5;
writeFileSync(join(out, 'pixels.f32'), pixels);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function compare(a: Float32Array, b: Float32Array): { cosine: number; maxRelError: number } {
  let cosine = 1, maxRelError = 0;
  for (let r = 0; r < b.length / DIM; r++) {
    let ab = 0, aa = 0, bb = 0, diff = 0, mag = 0;
    for (let i = r * DIM; i < (r + 1) * DIM; i++) {
      ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!;
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); mag = Math.max(mag, Math.abs(b[i]!));
    }
    cosine = Math.min(cosine, ab / Math.sqrt(aa * bb));
    maxRelError = Math.max(maxRelError, diff / mag);
  }
  return { cosine, maxRelError };
}

interface Row { device: Device; dtype: DType; error?: string; loadSeconds?: number; cosine?: number; maxRelError?: number; imagesPerSecond?: Record<string, number>; graph?: string }
const rows: Row[] = [];
let reference: Float32Array | undefined;
const threads = Number(opt('threads', '0')) || undefined;

for (const device of devices) {
  for (const dtype of (device === 'cpu' ? ['fp32'] : ['fp32', 'fp16']) as DType[]) {
    const row: Row = { device, dtype };
    rows.push(row);
    const t0 = performance.now();
    let model: ClipModel | undefined;
    try {
      model = await ClipModel.load(folder, { device, dtype, threads });
      const first = (await model.embedPixels(pixels.subarray(0, CHECK * 3 * S * S), CHECK, { normalize: false })).embeddings; // starts the session
      row.loadSeconds = (performance.now() - t0) / 1000;
      row.graph = model.compiled.visionPath;
      if (device === 'cpu') {
        reference = first;
        writeFileSync(join(out, 'cpu_fp32.f32'), first);
      } else if (reference) Object.assign(row, compare(first, reference));
      row.imagesPerSecond = {};
      for (const batch of batches) {
        const input = pixels.subarray(0, batch * 3 * S * S);
        await model.embedPixels(input, batch, { batchSize: batch }); // warm-up at this shape
        const times: number[] = [];
        for (let r = 0; r < (device === 'cpu' ? Math.min(runs, 2) : runs); r++) {
          const t = performance.now();
          await model.embedPixels(input, batch, { batchSize: batch });
          times.push((performance.now() - t) / 1000);
        }
        row.imagesPerSecond[`batch${batch}`] = batch / median(times);
      }
    } catch (e) {
      row.error = `${(e as Error).name}: ${(e as Error).message}`;
    } finally {
      await model?.release().catch(() => undefined);
    }
    console.error(`clipmed ${device} ${dtype}: ${row.error ?? `load ${row.loadSeconds!.toFixed(1)} s, ${JSON.stringify(row.imagesPerSecond)} images/s, cosine ${row.cosine ?? '-'}`}`);
  }
}
writeFileSync(join(out, 'clipmed.json'), JSON.stringify({ model: 'ViT-B-16 (open_clip config, exact GELU), clipmed random weights seed 1', runs, batches, rows }, null, 2));
