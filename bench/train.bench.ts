// npm run bench (training row): images/s of one training step of the demo model (models/clipmed-cxr-tiny:
// forward, CLIP loss, backward and AdamW) at batch 64 on 2 threads, fp32, random data; beside open_clip
// v2.24.0's step on the same model and batch with Debian's torch (bench/train_torch.py), run in the same
// process when /usr/bin/python3 has torch and open_clip's source is at $OPEN_CLIP_SRC (default
// /tmp/open_clip/src). The ratio is clipmed's images/s over PyTorch's.
// Options: --threads N (default 2), --runs N (default 5), --batch N (default 64), --json
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseClipConfig } from '../src/models/clip-config.ts';
import { ClipTrainer } from '../src/node/train/clip-trainer.ts';
import { openClipInit } from '../src/train/init.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const threads = opt('threads', 2);
const runs = opt('runs', 5);
const batch = opt('batch', 64);
const asJson = args.includes('--json');
const root = new URL('..', import.meta.url).pathname;
const configFile = join(root, 'models/clipmed-cxr-tiny/model_config.json');
const modelCfg = JSON.parse(readFileSync(configFile, 'utf8'));
const cfg = parseClipConfig(modelCfg, configFile);

const trainer = await ClipTrainer.create({
  cfg, weights: openClipInit(cfg, 0), loss: 'clip', batchSize: batch, lr: 1e-3, weightDecay: 0.2, beta1: 0.9, beta2: 0.98, eps: 1e-6,
  warmup: 0, schedule: 'const', totalSteps: runs + 1, threads,
});
const S = cfg.vision.imageSize;
const C = cfg.text.contextLength;
const pixels = Float32Array.from({ length: batch * 3 * S * S }, (_, i) => Math.sin(i * 12.9898) * 0.5);
const ids = new BigInt64Array(batch * C);
for (let b = 0; b < batch; b++) {
  for (let j = 0; j < C / 2; j++) ids[b * C + j] = BigInt(1 + ((b * 7919 + j * 104729) % 49000));
  ids[b * C + C / 2] = 49407n;
}
const times: number[] = [];
for (let i = 0; i <= runs; i++) {
  const t0 = performance.now();
  await trainer.step(i, [{ pixels, ids }]);
  if (i > 0) times.push((performance.now() - t0) / 1000);
}
await trainer.release();
times.sort((a, b) => a - b);
const clipmed = batch / times[Math.floor(times.length / 2)]!;

let torch: number | null = null;
const src = process.env.OPEN_CLIP_SRC ?? '/tmp/open_clip/src';
if (existsSync('/usr/bin/python3') && existsSync(join(src, 'open_clip'))) {
  const r = spawnSync('/usr/bin/python3', [join(root, 'bench/train_torch.py'), configFile, String(batch), String(threads), String(runs)], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: src } });
  if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').pop()!).images_per_s;
  else process.stderr.write(`bench/train_torch.py failed: ${r.stderr.slice(-500)}\n`);
}
const row = { bench: 'train step (clipmed-cxr-tiny, CLIP loss + AdamW)', batch, threads, clipmedImagesPerS: clipmed, torchImagesPerS: torch, ratio: torch ? clipmed / torch : null };
if (asJson) console.log(JSON.stringify(row));
else console.log(`train step  batch ${batch}  ${threads} threads  clipmed ${clipmed.toFixed(1)} img/s${torch ? `  open_clip+torch ${torch.toFixed(1)} img/s  ratio ${(clipmed / torch).toFixed(2)}` : '  (PyTorch reference not available)'}`);
