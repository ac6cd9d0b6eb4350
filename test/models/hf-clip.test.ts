// The Hugging Face CLIPModel family against a PyTorch reference written with transformers' key names
// (test/fixtures/hf-clip/make_reference.py): a tiny random-weight model in the hub folder layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel, readSafetensors, resolveLocalSource } from '../../src/index.ts';
import { parseHfClipConfig } from '../../src/models/hf-clip-family.ts';
import { DATA, isolateCache, logitsPerImage, maxRelError, minCosine, tempDir } from '../helpers/reference.ts';
import { torchSave } from '../helpers/torch-writer.ts';

isolateCache();

const HERE = new URL('../fixtures/hf-clip/', import.meta.url).pathname;
const TINY = join(HERE, 'tiny');
const ref = JSON.parse(readFileSync(join(HERE, 'reference.json'), 'utf8')) as Record<string, any>;

/** A copy of the fixture folder, changed by `edit`. */
function variant(edit: (dir: string) => void): string {
  const dir = join(tempDir('clipmed-hf-clip-'), 'model');
  cpSync(TINY, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editJson(file: string, f: (j: any) => void): void {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  f(j);
  writeFileSync(file, JSON.stringify(j));
}

test('hf-clip: the folder resolves to the hf format and the hf_clip family', async () => {
  const src = await resolveLocalSource(TINY);
  assert.equal(src.format, 'hf');
  assert.ok(src.weightsFile.endsWith('model.safetensors'));
  const cfg = parseHfClipConfig(src.hf!.config);
  assert.equal(cfg.text.pool, 'argmax'); // eos_token_id 2: transformers' legacy argmax pooling
  assert.equal(cfg.vision.act, 'quick_gelu');
  assert.equal(cfg.text.act, 'gelu');
});

test('hf-clip: tokens, image and text embeddings, patch tokens and logits agree with the reference', async () => {
  const model = await ClipModel.load(TINY, { threads: 1 });
  assert.equal(model.meta.family, 'hf_clip');
  const E = model.embedDim;
  assert.equal(E, 24);
  assert.equal(model.meta.text.padId, 49407);
  assert.equal(model.meta.text.contextLength, 77);

  // tokens: CLIP BPE padded with <|endoftext|> after the end token, as transformers' CLIPTokenizer pads
  assert.deepEqual(Array.from(model.tokenize(ref.texts)), ref.tokens.flat());

  const img = await model.embedPixels(Float32Array.from(ref.pixel_values), ref.pixel_values_shape[0]);
  assert.ok(maxRelError(img.embeddings, ref.image_features, E) < 1e-4, `image features ${maxRelError(img.embeddings, ref.image_features, E)}`);

  const rnd = await model.embedPixels(Float32Array.from(ref.random_pixel_values), 2, { patchTokens: true, patchEmbeds: true });
  assert.ok(maxRelError(rnd.embeddings, ref.random_image_features, E) < 1e-4);
  const [, P, W] = ref.random_patch_tokens_shape;
  assert.ok(maxRelError(rnd.patchTokens!, ref.random_patch_tokens, W) < 1e-4, 'patch tokens');
  assert.ok(maxRelError(rnd.patchEmbeds!, ref.random_patch_embeds, E) < 1e-4, 'patch embeds');
  assert.equal(rnd.patchTokens!.length, 2 * P * W);

  const txt = await model.embedTexts(ref.texts);
  const txtErr = maxRelError(txt.embeddings, ref.text_features, E);
  assert.ok(txtErr < 1e-4, `text features ${txtErr}`);

  assert.equal(model.meta.score.kind, 'softmax');
  assert.ok(Math.abs(model.meta.score.logitScale - ref.logit_scale) < 1e-5 * ref.logit_scale);
  const T = ref.texts.length;
  const logits = logitsPerImage(img.embeddings, txt.embeddings, E, model.meta.score.logitScale);
  assert.ok(maxRelError(logits, ref.logits_per_image, T) < 1e-4, 'logits_per_image');

  // end to end: CLIPImageProcessor (shortest edge, bicubic, crop at margin // 2) then the image tower
  assert.equal(model.meta.preprocess.cropRounding, 'floor');
  const files = await model.embedImageFiles(ref.images.map((p: string) => join(DATA, p)));
  const cos = minCosine(files.embeddings, ref.image_features, E);
  assert.ok(cos >= 0.9999, `end-to-end cosine ${cos}`);
  await model.release();
});

test('hf-clip: padding with the pad id (49407) gives the features of zero padding; the text graph takes either', async () => {
  const model = await ClipModel.load(TINY, { threads: 1 });
  const texts = ['a chest x-ray', 'Pleural effusion, left > right.'];
  const padded = model.tokenize(texts);
  const C = model.meta.text.contextLength;
  // transformers' argmax and ONNX ArgMax both take the first of equal maxima: the real end token
  for (let r = 0; r < texts.length; r++) {
    const row = Array.from(padded.subarray(r * C, (r + 1) * C));
    assert.equal(row.indexOf(49407), row.indexOf(Math.max(...row)));
    assert.ok(row.lastIndexOf(49407) === C - 1);
  }
  const a = await model.embedTexts(texts);
  // full-length batches (no cut) through the session directly: pad 49407 vs pad 0
  const { nodeBackend } = await import('../../src/index.ts');
  const s = await nodeBackend.create(model.compiled.textPath, { threads: 1 });
  const run = async (ids: Int32Array) => (await s.run({ input_ids: { data: BigInt64Array.from(ids, (v) => BigInt(v)), dims: [texts.length, C] } })).text_embeds!.data;
  const zero = Int32Array.from(padded);
  for (let r = 0; r < texts.length; r++) {
    const row = zero.subarray(r * C, (r + 1) * C);
    row.fill(0, row.indexOf(49407) + 1);
  }
  const full = await run(padded);
  const fullZero = await run(zero);
  assert.ok(maxRelError(full, a.embeddings, 24) < 1e-5);
  assert.ok(maxRelError(fullZero, a.embeddings, 24) < 1e-5);
  await s.release();
  await model.release();
});

test('hf-clip: first-eos pooling (eos_token_id 49407) and pytorch_model.bin give the same features', async () => {
  const dir = variant((d) => {
    editJson(join(d, 'config.json'), (j) => (j.text_config.eos_token_id = 49407));
    const sd = readSafetensors(readFileSync(join(d, 'model.safetensors')), 'model.safetensors');
    writeFileSync(join(d, 'pytorch_model.bin'), torchSave(sd));
    rmSync(join(d, 'model.safetensors'));
  });
  const src = await resolveLocalSource(dir);
  assert.ok(src.weightsFile.endsWith('pytorch_model.bin'));
  assert.equal(parseHfClipConfig(src.hf!.config).text.pool, 'first-eos');
  const model = await ClipModel.load(dir, { threads: 1 });
  const txt = await model.embedTexts(ref.texts);
  assert.ok(maxRelError(txt.embeddings, ref.text_features, 24) < 1e-4);
  const img = await model.embedPixels(Float32Array.from(ref.random_pixel_values), 2);
  assert.ok(maxRelError(img.embeddings, ref.random_image_features, 24) < 1e-4);
  await model.release();
});

test('hf-clip: a missing key, an unknown pad token and a crop other than the resize are errors naming them', async () => {
  const missing = variant((d) => {
    const sd = readSafetensors(readFileSync(join(d, 'model.safetensors')), 'model.safetensors');
    sd.delete('vision_model.post_layernorm.bias');
    writeFileSync(join(d, 'pytorch_model.bin'), torchSave(sd));
    rmSync(join(d, 'model.safetensors'));
  });
  await assert.rejects(ClipModel.load(missing), /missing key 'vision_model\.post_layernorm\.bias'/);

  const pad = variant((d) => {
    editJson(join(d, 'tokenizer_config.json'), (j) => (j.pad_token = '<pad>'));
    editJson(join(d, 'special_tokens_map.json'), (j) => (j.pad_token = '<pad>'));
  });
  await assert.rejects(ClipModel.load(pad), /pad_token '<pad>'/);

  const crop = variant((d) => editJson(join(d, 'preprocessor_config.json'), (j) => (j.size = { shortest_edge: 36 })));
  await assert.rejects(ClipModel.load(crop), /resize to 36 then crop 32x32/);

  const act = variant((d) => editJson(join(d, 'config.json'), (j) => (j.vision_config.hidden_act = 'relu')));
  await assert.rejects(ClipModel.load(act), /hidden_act 'relu'/);
});

test('hf-clip: preprocessor settings map onto PreprocessConfig (legacy integer sizes, defaults, SigLIP squash)', async () => {
  const { hfPreprocess, OPENAI_MEAN, OPENAI_STD } = await import('../../src/index.ts');
  const clip = { mean: OPENAI_MEAN, std: OPENAI_STD, centerCrop: true };
  // CLIPFeatureExtractor-era files: bare integers, no do_center_crop (transformers' default: crop)
  const legacy = hfPreprocess({ size: 224, crop_size: 224, resample: 3, feature_extractor_type: 'CLIPFeatureExtractor' }, 224, 'dir', clip);
  assert.deepEqual(legacy, { size: 224, mean: OPENAI_MEAN, std: OPENAI_STD, interpolation: 'bicubic', resizeMode: 'shortest', fillColor: 0, cropRounding: 'floor' });
  const siglip = hfPreprocess({ size: { height: 448, width: 448 }, resample: 2, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }, 448, 'dir', { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], centerCrop: false });
  assert.equal(siglip.resizeMode, 'squash');
  assert.equal(siglip.interpolation, 'bilinear');
  assert.equal(siglip.cropRounding, undefined);
  assert.throws(() => hfPreprocess(undefined, 224, 'dir', clip), /no preprocessor_config\.json/);
  assert.throws(() => hfPreprocess({ size: { shortest_edge: 224 }, crop_size: { height: 224, width: 224 }, resample: 0 }, 224, 'dir', clip), /resample 0/);
  assert.throws(() => hfPreprocess({ size: { shortest_edge: 224 }, crop_size: { height: 224, width: 224 } }, 336, 'dir', clip), /gives 224 px images.*336/);
});

test('hf-clip: text_config_dict overrides text_config; a sharded checkpoint is an error naming its index', async () => {
  const cfg = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8'));
  const legacy = { ...cfg, text_config_dict: { ...cfg.text_config, eos_token_id: 49407, hidden_act: 'quick_gelu' } };
  const parsed = parseHfClipConfig(legacy);
  assert.equal(parsed.text.pool, 'first-eos');
  assert.equal(parsed.text.act, 'quick_gelu');
  const only = parseHfClipConfig({ ...cfg, text_config: null, text_config_dict: cfg.text_config });
  assert.equal(only.text.width, 16);
  assert.throws(() => parseHfClipConfig({ ...cfg, model_type: 'siglip' }), /model_type 'siglip'/);
  const sharded = variant((d) => {
    rmSync(join(d, 'model.safetensors'));
    writeFileSync(join(d, 'model.safetensors.index.json'), '{}');
  });
  await assert.rejects(resolveLocalSource(sharded), /sharded checkpoints \(model\.safetensors\.index\.json\)/);
});
