// Towers are parts: an open_clip CLIP with a timm ViT image tower and open_clip's own text transformer (a
// combination no single family built) against open_clip v2.24.0 + timm v0.9.16 themselves
// (test/fixtures/mixed-towers/make_reference.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClipModel } from '../../src/node/clip-model.ts';
import { isolateCache } from '../helpers/reference.ts';

isolateCache();

const HERE = new URL('../fixtures/mixed-towers/', import.meta.url).pathname;

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

// tokens, image, patch and text embeddings against open_clip: the 'mixed towers' row of conformance.test.ts
