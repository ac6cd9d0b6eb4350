// The CLIP graphs against open_clip v2.24.0's own outputs (../shared/fixtures/open_clip/), both fixture models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClipModel } from '../../src/index.ts';
import { FIXTURE_MODELS, FIXTURES, isolateCache, loadReference, maxRelError, minCosine, referenceImages, logitsPerImage } from '../helpers/reference.ts';

isolateCache();

for (const name of FIXTURE_MODELS) {
  const ref = loadReference(name);
  const dir = join(FIXTURES, name);

  test(`${name}: embeddings, tokens, logits and patch tokens agree with open_clip`, async () => {
    const model = await ClipModel.load(dir, { threads: 1 });
    assert.equal(model.compiled.cached, false);
    const E = model.embedDim;

    // image tower from the reference pixel values: within 1e-4 of the largest magnitude
    const img = await model.embedPixels(Float32Array.from(ref.pixel_values), ref.pixel_values_shape[0]!);
    const imgErr = maxRelError(img.embeddings, ref.image_features.flat(), E);
    assert.ok(imgErr < 1e-4, `image features: relative error ${imgErr}`);

    const rnd = await model.embedPixels(Float32Array.from(ref.random_pixel_values), 2, { patchTokens: true });
    assert.ok(maxRelError(rnd.embeddings, ref.random_image_features.flat(), E) < 1e-4);
    const [, P, W] = ref.random_patch_tokens_shape as [number, number, number];
    assert.ok(maxRelError(rnd.patchTokens!, ref.random_patch_tokens, P * W) < 1e-4, 'patch tokens');

    // tokens identical, text tower within 1e-4 (our batches are cut to the longest end token)
    assert.deepEqual(Array.from(model.tokenize(ref.texts)), ref.tokens.flat());
    const txt = await model.embedTexts(ref.texts);
    const txtErr = maxRelError(txt.embeddings, ref.text_features.flat(), E);
    assert.ok(txtErr < 1e-4, `text features: relative error ${txtErr}`);

    // logits_per_image = logit_scale * normalized image @ normalized text
    assert.equal(model.meta.score.kind, 'softmax');
    const logitScale = model.meta.score.logitScale;
    assert.ok(Math.abs(logitScale - ref.logit_scale) < 1e-4 * ref.logit_scale);
    const T = ref.texts.length;
    const logits = logitsPerImage(img.embeddings, txt.embeddings, E, logitScale);
    assert.ok(maxRelError(logits, ref.logits_per_image.flat(), T) < 1e-4, 'logits_per_image');

    // end to end from the image files: preprocessing + image tower
    const files = await model.embedImageFiles(referenceImages(ref));
    const cos = minCosine(files.embeddings, ref.image_features.flat(), E);
    assert.ok(cos >= 0.9999, `end-to-end cosine ${cos}`);
    await model.release();

    // the second load finds the compiled graphs in the cache and gives the same numbers
    const again = await ClipModel.load(dir, { threads: 1 });
    assert.equal(again.compiled.cached, true);
    const img2 = await again.embedPixels(Float32Array.from(ref.pixel_values), 3);
    assert.deepEqual(Array.from(img2.embeddings), Array.from(img.embeddings));
    await again.release();
  });
}

test('normalized embeddings have unit norm', async () => {
  const model = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  const r = await model.embedTexts(['a chest x-ray', 'no pneumothorax'], { normalize: true });
  for (let i = 0; i < 2; i++) {
    const n = Math.hypot(...r.embeddings.subarray(i * 32, (i + 1) * 32));
    assert.ok(Math.abs(n - 1) < 1e-6);
  }
  await model.release();
});
