// A bare OpenAI-format state dict (as CheXzero and CXR-RePaiR publish), made from a fixture's weights:
// architecture inferred from shapes, half precision upcast, same numbers as open_clip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildGraphs, CheckpointError, ClipModel, ConfigError, floatToHalf, halfToFloat, inferOpenAIConfig, nodeBackend,
  readCheckpoint, type StateDict,
} from '../../src/index.ts';
import { torchSave } from '../helpers/torch-writer.ts';
import { FIXTURES, isolateCache, loadReference, maxRelError, tempDir } from '../helpers/reference.ts';

isolateCache();
const ref = loadReference('tiny-quickgelu');
// shapes cannot tell head counts; the fixture's heads are 32 wide (vision) and 16 wide (text)
const overrides = { visionHeadWidth: 32, textHeadWidth: 16 };

async function fixtureStateDict(): Promise<StateDict> {
  return readCheckpoint(join(FIXTURES, 'tiny-quickgelu/open_clip_pytorch_model.bin'));
}

test('architecture is inferred from the tensor shapes', async () => {
  const sd = await fixtureStateDict();
  const cfg = inferOpenAIConfig(sd, 'x.pt', overrides);
  assert.deepEqual(
    { e: cfg.embedDim, act: cfg.act, img: cfg.vision.imageSize, patch: cfg.vision.patchSize, vw: cfg.vision.width, vl: cfg.vision.layers, heads: cfg.vision.width / cfg.vision.headWidth },
    { e: 32, act: 'quick_gelu', img: 64, patch: 16, vw: 64, vl: 2, heads: 2 },
  );
  assert.deepEqual(
    { ctx: cfg.text.contextLength, vocab: cfg.text.vocabSize, w: cfg.text.width, heads: cfg.text.heads, layers: cfg.text.layers },
    { ctx: 77, vocab: 49408, w: 32, heads: 2, layers: 2 },
  );
  // OpenAI's default head width (64) does not divide this text width: a clear error, not a wrong graph
  assert.throws(() => inferOpenAIConfig(sd, 'x.pt'), ConfigError);
});

test('an OpenAI-format fp32 .pt with no config agrees with open_clip', async () => {
  const sd = await fixtureStateDict();
  const dir = tempDir();
  const file = join(dir, 'best_64_5e-05_original_22000_0.864.pt');
  writeFileSync(file, torchSave(sd));
  const model = await ClipModel.load(file, { overrides, threads: 1 });
  assert.equal(model.meta.format, 'openai');
  const img = await model.embedPixels(Float32Array.from(ref.pixel_values), 3);
  assert.ok(maxRelError(img.embeddings, ref.image_features.flat(), 32) < 1e-4);
  const txt = await model.embedTexts(ref.texts);
  assert.ok(maxRelError(txt.embeddings, ref.text_features.flat(), 32) < 1e-4);
  await model.release();
  // without the head widths, OpenAI's 64-wide default cannot divide the 32-wide text tower
  await assert.rejects(ClipModel.load(file, { threads: 1 }), ConfigError);
});

test('half-precision weights are upcast exactly', async () => {
  const sd = await fixtureStateDict();
  const dir = tempDir();
  const file = join(dir, 'half.pt');
  writeFileSync(file, torchSave(sd, { dtype: 'float16' }));
  const model = await ClipModel.load(file, { overrides, threads: 1 });
  const fromFile = await model.embedPixels(Float32Array.from(ref.pixel_values), 3);
  await model.release();

  // the same weights rounded to half in TypeScript, built directly: identical results
  const rounded: StateDict = new Map();
  for (const [k, t] of sd) {
    const data = Float32Array.from(t.data as Float32Array, (v) => halfToFloat(floatToHalf(v)));
    rounded.set(k, { ...t, data });
  }
  const built = buildGraphs({ name: 'half', format: 'openai', weightsFile: 'half.pt' }, rounded, overrides);
  const s = await nodeBackend.create(built.vision.bytes, { threads: 1 });
  const r = await s.run({ pixel_values: { data: Float32Array.from(ref.pixel_values), dims: [3, 3, 64, 64] } }, ['image_embeds']);
  await s.release();
  assert.deepEqual(Array.from(fromFile.embeddings), Array.from(r.image_embeds!.data));
  // and still close to the fp32 reference (half rounding only)
  assert.ok(maxRelError(fromFile.embeddings, ref.image_features.flat(), 32) < 2e-2);
});

test('a state dict that does not fit the architecture names every bad key', async () => {
  const sd = await fixtureStateDict();
  sd.delete('visual.ln_post.bias');
  sd.set('visual.extra_head.weight', { dtype: 'float32', shape: [2], data: new Float32Array(2) });
  const proj = sd.get('visual.proj')!;
  sd.set('visual.proj', { ...proj, shape: [32, 64] });
  assert.throws(
    () => buildGraphs({ name: 'bad', format: 'openai', weightsFile: 'bad.pt' }, sd, overrides),
    (e: unknown) => e instanceof CheckpointError && /bad\.pt/.test(e.message) && /missing key 'visual\.ln_post\.bias'/.test(e.message)
      && /unexpected key 'visual\.extra_head\.weight'/.test(e.message) && /'visual\.proj' has shape \[32,64\], expected \[64,32\]/.test(e.message),
  );
});
