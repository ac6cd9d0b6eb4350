// clipmed's training steps against open_clip v2.24.0's own train_one_epoch, ClipLoss / SigLipLoss (and MedCLIP's
// semantic matching loss, transcribed from its repository in the fixture script), cosine_lr
// and torch AdamW (fixture: test/fixtures/train/make_open_clip_steps.py). Per-step losses within 1e-4
// relative and, for every parameter, the update after all steps within 1e-3 relative:
// ||delta - delta_ref|| / ||delta_ref||. Both float64 (the gradients' exactness) and float32 (training as run).
// In float32 the key third of each attn.in_proj_bias is left out: its exact gradient is zero (softmax does not
// change when a constant is added to every score of a row), so both sides update it by AdamW-normalised
// round-off noise that no two float32 implementations share. In float64 it is compared like every other value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';
import type { StateDict } from '../../src/checkpoint/types.ts';
import { parseClipConfig } from '../../src/models/clip-config.ts';
import { ClipTrainer, type Batch } from '../../src/node/train/clip-trainer.ts';

const dir = new URL('../fixtures/train/', import.meta.url).pathname;
const ref = JSON.parse(readFileSync(`${dir}reference.json`, 'utf8'));
const inputs = readSafetensors(readFileSync(`${dir}inputs.safetensors`), 'inputs.safetensors');
const deltas = readSafetensors(readFileSync(`${dir}deltas.safetensors`), 'deltas.safetensors');
// --loss gloria against an independent PyTorch writing of the same formula (make_gloria_steps.py)
const gloria = JSON.parse(readFileSync(`${dir}gloria_reference.json`, 'utf8'));
for (const [k, t] of readSafetensors(readFileSync(`${dir}gloria_deltas.safetensors`), 'gloria_deltas.safetensors')) deltas.set(k, t);
const cfg = parseClipConfig(ref.model_cfg);

function batches(): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; inputs.has(`batch${i}.pixel_values`); i++) {
    out.push({ pixels: inputs.get(`batch${i}.pixel_values`)!.data as Float32Array, ids: inputs.get(`batch${i}.input_ids`)!.data as BigInt64Array, labels: inputs.get(`batch${i}.labels`)!.data as Float32Array });
  }
  return out;
}

for (const sc of [...ref.scenarios, gloria]) {
  for (const float of ['float64', 'float32'] as const) {
    test(`open_clip training steps: ${sc.name} (${float})`, async () => {
      const weights: StateDict = new Map();
      for (const [k, t] of inputs) if (k.startsWith('init.')) weights.set(k.slice(5), t);
      weights.set('logit_scale', { dtype: 'float32', shape: [], data: Float32Array.of(sc.logit_scale) });
      if (sc.logit_bias !== null) weights.set('logit_bias', { dtype: 'float32', shape: [], data: Float32Array.of(sc.logit_bias) });
      const start = new Map([...weights].map(([k, t]) => [k, Float64Array.from(t.data as Float32Array)]));
      const trainer = await ClipTrainer.create({
        cfg, weights, loss: sc.loss, batchSize: ref.batch, float, lr: sc.lr, weightDecay: sc.wd, beta1: 0.9, beta2: 0.98, eps: 1e-6,
        warmup: sc.warmup, schedule: 'cosine', totalSteps: sc.steps, gradClip: sc.grad_clip ?? undefined, accum: sc.accum, threads: 1,
      });
      const all = batches();
      const losses: number[] = [];
      for (let s = 0; s < sc.steps; s++) losses.push(...(await trainer.step(s, all.slice(s * sc.accum, (s + 1) * sc.accum))).losses);
      const refLosses: number[] = sc[`losses_${float}`];
      assert.equal(losses.length, refLosses.length);
      losses.forEach((l, i) => assert.ok(Math.abs(l - refLosses[i]!) <= 1e-4 * Math.abs(refLosses[i]!), `${sc.name} ${float} step ${i}: loss ${l} vs open_clip ${refLosses[i]}`));
      let worst = 0;
      let worstName = '';
      for (const [k, p] of trainer.params) {
        const d = deltas.get(`${sc.name}.${float}.${k}`);
        assert.ok(d, `no reference delta for ${k}`);
        const s0 = start.get(k)!;
        let num = 0;
        let den = 0;
        const W = p.data.length / 3;
        const skipKeyBias = float === 'float32' && k.endsWith('attn.in_proj_bias');
        for (let i = 0; i < p.data.length; i++) {
          if (skipKeyBias && i >= W && i < 2 * W) continue;
          const r = (d.data as Float32Array)[i]!;
          const diff = p.data[i]! - s0[i]! - r;
          num += diff * diff;
          den += r * r;
        }
        const rel = Math.sqrt(num) / Math.sqrt(den);
        if (rel > worst) [worst, worstName] = [rel, k];
        assert.ok(den > 0, `${k}: the reference update is zero, so the check would prove nothing`);
      }
      assert.equal(trainer.params.size, [...deltas.keys()].filter((k) => k.startsWith(`${sc.name}.${float}.`)).length);
      assert.ok(worst <= 1e-3, `${sc.name} ${float}: worst parameter update ${worstName} differs by ${worst.toExponential(2)} relative`);
      console.log(`${sc.name} ${float}: worst relative update difference ${worst.toExponential(2)} (${worstName}); max loss rel diff ${Math.max(...losses.map((l, i) => Math.abs(l - refLosses[i]!) / Math.abs(refLosses[i]!))).toExponential(2)}`);
      await trainer.release();
    });
  }
}
