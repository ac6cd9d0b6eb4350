// A loaded model starts only what its work needs: embedding images opens the image graph's session and neither
// reads the tokenizer nor opens the text graph; the first tokenize makes the tokenizer, the first embedTexts opens
// the text graph. Tokens and embeddings are open_clip's either way (the tiny-quickgelu fixture's reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClipModel } from '../../src/index.ts';
import { FIXTURES, isolateCache, loadReference, maxRelError } from '../helpers/reference.ts';

isolateCache();

test('images alone load neither the tokenizer nor the text graph; texts load them on first use, with the reference tokens and features', async () => {
  const ref = loadReference('tiny-quickgelu');
  const m = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  try {
    assert.deepEqual(m.loaded, { tokenizer: false, vision: false, text: false });
    assert.equal(m.meta.text.contextLength, ref.tokens[0]!.length); // metadata needs nothing loaded
    const n = ref.pixel_values_shape[0]!;
    const img = await m.embedPixels(Float32Array.from(ref.pixel_values), n);
    assert.ok(maxRelError(img.embeddings, ref.image_features.flat(), m.embedDim) < 1e-4);
    assert.deepEqual(m.loaded, { tokenizer: false, vision: true, text: false });

    assert.deepEqual(Array.from(m.tokenize(ref.texts)), ref.tokens.flat());
    assert.deepEqual(m.loaded, { tokenizer: true, vision: true, text: false });

    const txt = await m.embedTexts(ref.texts);
    assert.ok(maxRelError(txt.embeddings, ref.text_features.flat(), m.embedDim) < 1e-4);
    assert.deepEqual(m.loaded, { tokenizer: true, vision: true, text: true });
  } finally {
    await m.release();
  }
  assert.deepEqual(m.loaded, { tokenizer: true, vision: false, text: false });

  // texts first: the tokenizer comes with them, the image graph stays closed
  const t = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  try {
    assert.deepEqual(Array.from((await t.embedTexts(ref.texts)).tokens), ref.tokens.flat());
    assert.deepEqual(t.loaded, { tokenizer: true, vision: false, text: true });
  } finally {
    await t.release();
  }
});
