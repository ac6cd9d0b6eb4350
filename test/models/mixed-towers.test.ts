// Towers are parts: an open_clip CLIP with a timm ViT image tower and open_clip's own text transformer (a
// combination no single family built) against open_clip v2.24.0 + timm v0.9.16 themselves
// (test/fixtures/mixed-towers/make_reference.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel } from '../../src/models/clip-model.ts';
import { isolateCache, maxRelError } from '../helpers/reference.ts';

isolateCache();

const HERE = new URL('../fixtures/mixed-towers/', import.meta.url).pathname;
const ref = JSON.parse(readFileSync(join(HERE, 'reference.json'), 'utf8')) as Record<string, any>;
const E = 24;

test('mixed towers: timm ViT + open_clip text reads as a pair of registered towers', async () => {
  const model = await ClipModel.load(join(HERE, 'tiny'), { threads: 1 });
  const spec = model.meta.spec!;
  assert.deepEqual([spec.vision.kind, spec.vision.prefix, spec.text.kind, spec.text.prefix], ['timm-vit', 'visual.', 'open_clip-text', '']);
  assert.equal((spec.text.config as any).act, 'quick_gelu'); // quick_gelu reaches open_clip's tower; timm keeps exact GELU
  assert.equal(model.meta.family, 'open_clip');
  assert.deepEqual(model.meta.patchTokens, { grid: 4, width: 32 });
  assert.deepEqual(model.meta.preprocess.mean, [0.5, 0.5, 0.5]);
  await model.release();
});

test('mixed towers: tokens, image, patch and text embeddings agree with open_clip to 1e-4', async () => {
  const model = await ClipModel.load(join(HERE, 'tiny'), { threads: 1 });
  assert.deepEqual(Array.from(model.tokenize(ref.texts)), ref.tokens.flat());
  const img = await model.embedPixels(Float32Array.from(ref.pixel_values), ref.pixel_values_shape[0], { patchTokens: true, patchEmbeds: true });
  const txt = await model.embedTexts(ref.texts);
  const errs = {
    image: maxRelError(img.embeddings, ref.image_features, E),
    patchTokens: maxRelError(img.patchTokens!, ref.patch_tokens, ref.patch_tokens_shape[2]),
    patchEmbeds: maxRelError(img.patchEmbeds!, ref.patch_embeds, E),
    text: maxRelError(txt.embeddings, ref.text_features, E),
  };
  for (const [k, e] of Object.entries(errs)) assert.ok(e < 1e-4, `${k}: max relative error ${e}`);
  assert.ok(Math.abs(model.meta.score.logitScale - ref.logit_scale) < 1e-5 * ref.logit_scale);
  await model.release();
});
