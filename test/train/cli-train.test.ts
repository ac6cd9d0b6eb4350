// `clipmed train` from outside, as the issue spells the command: determinism with --no-shuffle --no-augment,
// resume after kill -9 equal to an uninterrupted run, the output folder loading in `clipmed embed`, and
// clear errors for bad manifests. Real chest X-rays from ../shared/data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { readSafetensorsMetadata } from '../../src/checkpoint/safetensors.ts';
import { cli, ROOT } from '../helpers/cli.ts';

const clipmed = cli();
const data = join(ROOT, '../shared/data/pneumonia-cxr');
const dir = mkdtempSync(join(tmpdir(), 'clipmed-train-'));
const rows = readFileSync(join(data, 'manifest.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
const picked = [...rows.filter((r) => r[2] === 'normal').slice(0, 12), ...rows.filter((r) => r[2] === 'pneumonia').slice(0, 12)];
const manifest = join(dir, 'train.csv');
writeFileSync(manifest, ['image,text', ...picked.map((r) => `${relative(dir, join(data, r[0]!))},${r[2] === 'normal' ? 'a normal chest x-ray' : 'a chest x-ray showing pneumonia'}`), 'missing/none.png,a lost image'].join('\n') + '\n');
const config = join(dir, 'tiny.json');
writeFileSync(config, JSON.stringify({ embed_dim: 16, vision_cfg: { image_size: 32, patch_size: 8, width: 32, layers: 2, head_width: 16 }, text_cfg: { context_length: 16, vocab_size: 49408, width: 16, heads: 2, layers: 1 } }));
const base = ['train', '--model', config, '--data', manifest, '--batch-size', '8', '--lr', '1e-3', '--warmup', '2', '--threads', '1'];

test('train: --no-shuffle --no-augment is deterministic; writes an open_clip folder, metrics.jsonl, loss.svg and a JSON summary', async () => {
  const outs = ['det1', 'det2'].map((d) => join(dir, d));
  const results = outs.map((out) => clipmed(...base, '--out', out, '--epochs', '2', '--no-shuffle', '--no-augment', '--json'));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(results[0]!.stdout);
  assert.equal(summary.images, 24);
  assert.equal(summary.steps, 6); // 24 pairs / 8 = 3 steps per epoch, 2 epochs
  assert.deepEqual(summary.skipped.map((s: { image: string }) => s.image.endsWith('missing/none.png')), [true]);
  assert.ok(Number.isFinite(summary.finalLoss));
  const [a, b] = outs.map((o) => readFileSync(join(o, 'open_clip_model.safetensors')));
  assert.ok(a!.equals(b!), 'two runs with --no-shuffle --no-augment must write the same weights');
  const cfg = JSON.parse(readFileSync(join(outs[0]!, 'open_clip_config.json'), 'utf8'));
  assert.equal(cfg.model_cfg.embed_dim, 16);
  assert.deepEqual(Object.keys(cfg.preprocess_cfg).sort(), ['interpolation', 'mean', 'resize_mode', 'std']);
  const metrics = readFileSync(join(outs[0]!, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(metrics.map((m) => m.step), [0, 1, 2, 3, 4, 5]);
  for (const m of metrics) for (const k of ['epoch', 'loss', 'lr', 'logit_scale', 'images_per_s']) assert.equal(typeof m[k], 'number', k);
  assert.equal(metrics[0].lr, 5e-4); // warm-up: lr * (0 + 1) / 2
  assert.match(readFileSync(join(outs[0]!, 'loss.svg'), 'utf8'), /^<svg[\s\S]*<polyline/);
  // the torch.save-format copy (for open_clip v2.24, which reads weights with torch.load) holds the same tensors
  const { readCheckpoint } = await import('../../src/node/checkpoint-files.ts');
  const { readSafetensors } = await import('../../src/checkpoint/safetensors.ts');
  const bin = await readCheckpoint(join(outs[0]!, 'open_clip_pytorch_model.bin'));
  const st = readSafetensors(a!, 'open_clip_model.safetensors');
  assert.equal(bin.size, st.size);
  for (const [k, t] of st) assert.deepEqual(bin.get(k)?.data, t.data, k);
  // the folder is a model clipmed loads
  const e = clipmed('embed', '--model', outs[0]!, '--text', 'a chest x-ray showing pneumonia', '--json');
  assert.equal(e.code, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).texts[0].embedding.length, 16);
});

test('train: --resume after kill -9 gives the same weights as an uninterrupted run (shuffled, augmented)', async () => {
  const args = [...base, '--steps', '18', '--save-every', '1', '--seed', '7'];
  const full = join(dir, 'full');
  const r = clipmed(...args, '--out', full);
  assert.equal(r.code, 0, r.stderr);
  const crashed = join(dir, 'crashed');
  const child = spawn(process.execPath, [join(ROOT, 'bin/clipmed.js'), ...args, '--out', crashed], { stdio: 'ignore' });
  const ckpt = join(crashed, 'checkpoint.safetensors');
  let killedAt = -1;
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      try {
        if (!existsSync(ckpt)) return;
        killedAt = Number(readSafetensorsMetadata(readFileSync(ckpt), ckpt).step);
        child.kill('SIGKILL');
        clearInterval(timer);
        resolve();
      } catch (e) {
        clearInterval(timer);
        reject(e);
      }
    }, 5);
    child.on('exit', () => {
      clearInterval(timer);
      resolve();
    });
  });
  await new Promise((res) => (child.exitCode !== null || child.signalCode !== null ? res(null) : child.on('exit', res)));
  assert.equal(child.signalCode, 'SIGKILL', 'the run must have been killed before it finished');
  assert.ok(killedAt >= 1 && killedAt < 18, `killed at step ${killedAt}`);
  assert.equal(existsSync(join(crashed, 'open_clip_model.safetensors')), false);
  const resumed = clipmed(...args, '--out', crashed, '--resume', crashed, '--json');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.ok(JSON.parse(resumed.stdout).resumedFrom >= killedAt);
  const a = readFileSync(join(full, 'open_clip_model.safetensors'));
  const b = readFileSync(join(crashed, 'open_clip_model.safetensors'));
  assert.ok(a.equals(b), 'the resumed run must end with the same weights as the uninterrupted one');
  const steps = readFileSync(join(crashed, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, Array.from({ length: 18 }, (_, i) => i));
  // options that change the training are refused on resume
  const other = clipmed(...args.map((x) => (x === '1e-3' ? '2e-3' : x)), '--out', crashed, '--resume', crashed);
  assert.notEqual(other.code, 0);
  assert.match(other.stderr, /lr 0\.001 -> 0\.002/);
});

test('train: bad input is a clear error naming the file', () => {
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 'image,caption\nx.png,hello\n');
  const r = clipmed('train', '--model', config, '--data', bad, '--out', join(dir, 'bad'), '--steps', '1');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /bad\.csv.*'text'/);
  const l = clipmed('train', '--model', config, '--data', manifest, '--out', join(dir, 'bad'), '--steps', '1', '--loss', 'nope');
  assert.notEqual(l.code, 0);
  assert.match(l.stderr, /--loss 'nope'/);
  const both = clipmed('train', '--model', config, '--data', manifest, '--out', join(dir, 'bad'), '--steps', '1', '--epochs', '1');
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /one of --epochs/);
});

test('train --loss siglip: the folder carries logit_bias, which clipmed loads and scores with the sigmoid', async () => {
  const out = join(dir, 'siglip');
  const r = clipmed(...base, '--out', out, '--steps', '2', '--loss', 'siglip', '--json');
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(readFileSync(join(out, 'open_clip_config.json'), 'utf8'));
  assert.equal(cfg.model_cfg.init_logit_bias, -10); // open_clip creates the parameter only when model_cfg says so
  const { ClipModel } = await import('../../src/index.ts');
  const model = await ClipModel.load(out, { threads: 1 });
  assert.equal(model.meta.score.kind, 'sigmoid');
  const { readSafetensors } = await import('../../src/checkpoint/safetensors.ts');
  const sd = readSafetensors(readFileSync(join(out, 'open_clip_model.safetensors')), out);
  const bias = (sd.get('logit_bias')!.data as Float32Array)[0]!;
  assert.notEqual(bias, -10); // trained
  assert.equal((model.meta.score as { logitBias: number }).logitBias, bias);
  await model.release();
});

test('train --loss medclip: soft targets from the label column; a row without a label is an error naming the file', () => {
  const labelled = join(dir, 'labelled.csv');
  writeFileSync(labelled, ['image,text,label', ...picked.map((r) => `${relative(dir, join(data, r[0]!))},${r[2] === 'normal' ? 'clear lungs' : 'focal consolidation'},${r[2] === 'normal' ? 'normal' : 'pneumonia|opacity'}`)].join('\n') + '\n');
  const r = clipmed(...base, '--data', labelled, '--val', labelled, '--out', join(dir, 'medclip'), '--steps', '2', '--loss', 'medclip', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /3 classes: normal, opacity, pneumonia/);
  const summary = JSON.parse(r.stdout);
  assert.ok(Number.isFinite(summary.finalLoss));
  // validation after the (only) epoch: loss, recalls, and zero-shot AUROC because the rows carry labels
  assert.equal(summary.val.step, 2);
  for (const k of ['val_loss', 'image_to_text_R1', 'text_to_image_R10', 'zero_shot_auroc']) assert.ok(Number.isFinite(summary.val[k]), k);
  assert.ok(summary.val.zero_shot_auroc >= 0 && summary.val.zero_shot_auroc <= 1);
  const lines = readFileSync(join(dir, 'medclip', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => 'val_loss' in l).length, 1);
  const unlabelled = clipmed(...base, '--out', join(dir, 'medclip2'), '--steps', '1', '--loss', 'medclip');
  assert.notEqual(unlabelled.code, 0);
  assert.match(unlabelled.stderr, /train\.csv.*needs a 'label' column/);
});

test('train from an open_clip folder with --lock-image (LiT): the image tower is unchanged, the text tower trained', async () => {
  const src = join(ROOT, '../shared/fixtures/open_clip/tiny-quickgelu');
  const out = join(dir, 'lit');
  const r = clipmed('train', '--model', src, '--data', manifest, '--out', out, '--steps', '2', '--batch-size', '8', '--lock-image', '--threads', '1', '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.ok(summary.trainable < summary.parameters);
  const { readCheckpoint } = await import('../../src/node/checkpoint-files.ts');
  const { readSafetensors } = await import('../../src/checkpoint/safetensors.ts');
  const before = await readCheckpoint(join(src, 'open_clip_pytorch_model.bin'));
  const after = readSafetensors(readFileSync(join(out, 'open_clip_model.safetensors')), out);
  let visual = 0;
  let changedText = 0;
  for (const [k, t] of after) {
    const b = before.get(k)!.data as Float32Array;
    const same = (t.data as Float32Array).every((v, i) => v === b[i]);
    if (k.startsWith('visual.')) {
      visual++;
      assert.ok(same, `${k} changed although the image tower is locked`);
    } else if (!same) changedText++;
  }
  assert.ok(visual > 10 && changedText > 10, `${visual} visual tensors kept, ${changedText} text tensors trained`);
});

test('train --loss gloria: the CLIP loss plus the word-to-patch local loss trains from the command line', () => {
  const r = clipmed(...base, '--out', join(dir, 'gloria'), '--steps', '2', '--loss', 'gloria', '--json');
  assert.equal(r.code, 0, r.stderr);
  const metrics = readFileSync(join(dir, 'gloria', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  // two losses of about ln(8) each at the start (batch 8): the local term is there
  assert.ok(metrics[0].loss > 1.5 * Math.log(8), `first loss ${metrics[0].loss}`);
});

test('train --data takes a folder of class folders, and a manifest with labels but no texts (the class name is the text)', async () => {
  const { mkdirSync, symlinkSync } = await import('node:fs');
  const classes = join(dir, 'classes');
  for (const r of picked) {
    const c = r[2] === 'normal' ? 'normal_chest' : 'pneumonia';
    mkdirSync(join(classes, c), { recursive: true });
    symlinkSync(join(data, r[0]!), join(classes, c, r[0]!.split('/').pop()!));
  }
  const f = clipmed(...base, '--data', classes, '--out', join(dir, 'folders'), '--steps', '1', '--json');
  assert.equal(f.code, 0, f.stderr);
  assert.equal(JSON.parse(f.stdout).images, 24);
  const labelsOnly = join(dir, 'labels-only.csv');
  writeFileSync(labelsOnly, ['image,label', ...picked.map((r) => `${relative(dir, join(data, r[0]!))},${r[2]}`)].join('\n') + '\n');
  const l = clipmed(...base, '--data', labelsOnly, '--out', join(dir, 'labels-only'), '--steps', '1', '--json');
  assert.equal(l.code, 0, l.stderr);
  assert.equal(JSON.parse(l.stdout).images, 24);
});
