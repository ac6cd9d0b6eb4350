// Heatmaps: patch embeddings checked against open_clip's patch tokens through proj; the CLI writes PNG and .npy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ClipModel, readCheckpoint, readNpy } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { DATA, FIXTURES, isolateCache, loadReference, maxRelError, tempDir } from '../helpers/reference.ts';

const cache = isolateCache();
const model = join(FIXTURES, 'tiny-quickgelu');
const clipmed = cli({ CLIPMED_CACHE: cache });
const xray = join(DATA, 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');

test('patch embeddings are open_clip patch tokens through visual.proj', async () => {
  const ref = loadReference('tiny-quickgelu');
  const sd = await readCheckpoint(join(model, 'open_clip_pytorch_model.bin'));
  const proj = sd.get('visual.proj')!.data as Float32Array; // [64, 32]
  const [n, P, W] = ref.random_patch_tokens_shape as [number, number, number];
  const expected = new Float32Array(n * P * 32);
  for (let r = 0; r < n * P; r++) for (let e = 0; e < 32; e++) {
    let s = 0;
    for (let k = 0; k < W; k++) s += ref.random_patch_tokens[r * W + k]! * proj[k * 32 + e]!;
    expected[r * 32 + e] = s;
  }
  const m = await ClipModel.load(model, { threads: 1 });
  const out = await m.embedPixels(Float32Array.from(ref.random_pixel_values), n, { patchEmbeds: true });
  assert.ok(maxRelError(out.patchEmbeds!, expected, P * 32) < 1e-4);
  await m.release();
});

test('heatmap writes a PNG overlay and a [H, W] map per prompt; prompts get different maps', async () => {
  const dir = tempDir();
  const r = clipmed('heatmap', xray, '--model', model, '-t', 'right lower lobe pneumonia', '-t', 'heart', '-o', dir, '--npy', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.heatmaps.length, 2);
  const maps = out.heatmaps.map((h: { npy: string }) => readNpy(readFileSync(h.npy), h.npy));
  for (const m of maps) {
    assert.deepEqual(m.shape, [64, 64]);
    const v = m.data as Float32Array;
    assert.ok(Math.min(...v) >= 0 && Math.max(...v) <= 1 && Math.max(...v) - Math.min(...v) > 0.5);
  }
  // the known failure (the same map whatever the prompt) is removed: the two maps differ
  let diff = 0;
  for (let i = 0; i < 64 * 64; i++) diff = Math.max(diff, Math.abs((maps[0].data as Float32Array)[i]! - (maps[1].data as Float32Array)[i]!));
  assert.ok(diff > 0.5, `maps differ by at most ${diff}`);
  // the overlay is over the original image at its size (224 x 224), not the model's 64 x 64 input (issue 8)
  const meta = await sharp(out.heatmaps[0].png).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels, meta.format], [224, 224, 3, 'png']);
});

test('a single prompt is compared against neutral reference prompts', () => {
  const dir = tempDir();
  const r = clipmed('heatmap', xray, '--model', model, '-t', 'pneumonia', '-o', dir, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.heatmaps.length, 1);
  assert.equal(out.heatmaps[0].flat, false);
});
