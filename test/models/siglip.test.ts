// The SigLIP family against a PyTorch SiglipModel written with transformers' key names and a re-implemented
// SiglipTokenizer (test/fixtures/siglip/make_reference.py): a tiny random-weight model in the hub layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel, resolveLocalSource } from '../../src/index.ts';
import { DATA, isolateCache, logitsPerImage, maxRelError, minCosine, tempDir } from '../helpers/reference.ts';

isolateCache();

const HERE = new URL('../fixtures/siglip/', import.meta.url).pathname;
const TINY = join(HERE, 'tiny');
const ref = JSON.parse(readFileSync(join(HERE, 'reference.json'), 'utf8')) as Record<string, any>;

function variant(edit: (dir: string) => void): string {
  const dir = join(tempDir('clipmed-siglip-'), 'model');
  cpSync(TINY, dir, { recursive: true });
  edit(dir);
  return dir;
}

test('siglip: the folder resolves to the siglip family with sigmoid scoring', async () => {
  const src = await resolveLocalSource(TINY);
  assert.equal(src.format, 'hf');
  const model = await ClipModel.load(TINY, { threads: 1 });
  assert.equal(model.meta.family, 'siglip');
  assert.equal(model.embedDim, 32);
  assert.equal(model.meta.text.contextLength, 64);
  assert.equal(model.meta.text.padId, 1);
  assert.equal(model.meta.text.cutToEnd, false);
  assert.deepEqual(model.meta.patchTokens, { grid: 4, width: 32 });
  assert.equal(model.meta.preprocess.resizeMode, 'squash');
  const s = model.meta.score;
  assert.equal(s.kind, 'sigmoid');
  if (s.kind === 'sigmoid') {
    assert.ok(Math.abs(s.logitScale - ref.logit_scale) < 1e-5 * ref.logit_scale);
    assert.ok(Math.abs(s.logitBias - ref.logit_bias) < 1e-6);
  }
  await model.release();
});

test('siglip: tokens equal the SiglipTokenizer reference (lower case, punctuation, specials, truncation, padding)', async () => {
  const model = await ClipModel.load(TINY, { threads: 1 });
  const tokens = model.tokenize(ref.texts);
  ref.texts.forEach((t: string, r: number) => assert.deepEqual(Array.from(tokens.subarray(r * 64, (r + 1) * 64)), ref.tokens[r], JSON.stringify(t)));
  await model.release();
});

test('siglip: image, text and patch embeddings and sigmoid logits agree with the reference', async () => {
  const model = await ClipModel.load(TINY, { threads: 1 });
  const E = model.embedDim;
  const img = await model.embedPixels(Float32Array.from(ref.pixel_values), ref.pixel_values_shape[0]);
  assert.ok(maxRelError(img.embeddings, ref.image_features, E) < 1e-4, `image ${maxRelError(img.embeddings, ref.image_features, E)}`);
  const rnd = await model.embedPixels(Float32Array.from(ref.random_pixel_values), 2, { patchTokens: true, patchEmbeds: true });
  assert.ok(maxRelError(rnd.embeddings, ref.random_image_features, E) < 1e-4);
  assert.ok(maxRelError(rnd.patchTokens!, ref.random_patch_tokens, 32) < 1e-4, 'patch tokens');
  assert.ok(maxRelError(rnd.patchEmbeds!, ref.random_patch_embeds, E) < 1e-4, 'patch embeds');

  const txt = await model.embedTexts(ref.texts);
  const err = maxRelError(txt.embeddings, ref.text_features, E);
  assert.ok(err < 1e-4, `text ${err}`);

  const s = model.meta.score;
  assert.equal(s.kind, 'sigmoid');
  if (s.kind !== 'sigmoid') return;
  const T = ref.texts.length;
  const logits = logitsPerImage(img.embeddings, txt.embeddings, E, s.logitScale, s.logitBias);
  assert.ok(maxRelError(logits, ref.logits_per_image, T) < 1e-4, 'logits_per_image');

  // end to end: SiglipImageProcessor (resize to 32x32, bicubic, no crop) then the image tower
  const files = await model.embedImageFiles(ref.images.map((p: string) => join(DATA, p)));
  const cos = minCosine(files.embeddings, ref.image_features, E);
  assert.ok(cos >= 0.9999, `end-to-end cosine ${cos}`);
  await model.release();
});

test('siglip: tokenizer.model is read like spiece.model; a folder without a SentencePiece model is an error', async () => {
  const renamed = variant((d) => renameSync(join(d, 'spiece.model'), join(d, 'tokenizer.model')));
  const m = await ClipModel.load(renamed, { threads: 1 });
  assert.deepEqual(Array.from(m.tokenize([ref.texts[0]])), ref.tokens[0]);
  await m.release();
  const none = variant((d) => {
    rmSync(join(d, 'spiece.model'));
    writeFileSync(join(d, 'tokenizer.json'), '{}');
  });
  await assert.rejects(ClipModel.load(none), /no SentencePiece model.*tokenizer\.json is there/);
});

test('siglip: a checkpoint without logit_bias is an error naming it', async () => {
  const { readSafetensors, writeSafetensors } = await import('../../src/index.ts');
  const dir = variant((d) => {
    const sd = readSafetensors(readFileSync(join(d, 'model.safetensors')), 'model.safetensors');
    sd.delete('logit_bias');
    writeFileSync(join(d, 'model.safetensors'), writeSafetensors(sd));
  });
  await assert.rejects(ClipModel.load(dir), /logit_bias/);
});

test('siglip: a copy of the folder reuses the cached graphs and reads the tokenizer from its own folder', async () => {
  const first = await ClipModel.load(TINY, { threads: 1 });
  await first.release();
  const copy = variant(() => {});
  const m = await ClipModel.load(copy, { threads: 1 });
  assert.equal(m.compiled.cached, true);
  assert.equal(m.meta.text.tokenizer.kind === 'sentencepiece' && m.meta.text.tokenizer.file, 'spiece.model');
  assert.deepEqual(Array.from(m.tokenize([ref.texts[1]])), ref.tokens[1]);
  await m.release();
});

