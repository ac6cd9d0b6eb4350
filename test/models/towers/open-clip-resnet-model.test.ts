// An open_clip folder whose vision_cfg has list-valued `layers` (RN50-style), and a bare OpenAI-format RN state
// dict, load through the readers and the tower registry: the ModifiedResNet image tower (weights of the open_clip-made fixture in
// test/fixtures/towers/modified-resnet) paired with the open_clip text tower of ../shared's tiny-quickgelu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import type { StateDict } from '../../../src/checkpoint/types.ts';
import { ClipModel } from '../../../src/node/clip-model.ts';
import { cli } from '../../helpers/cli.ts';
import { DATA, FIXTURES, isolateCache, loadReference, maxRelError, tempDir } from '../../helpers/reference.ts';
import { torchSave } from '../../helpers/torch-writer.ts';
import { loadTowerFixture } from './tower-helpers.ts';

const cache = isolateCache();
const { dir: rnDir, ref } = loadTowerFixture('modified-resnet');
const textRef = loadReference('tiny-quickgelu');

async function rnStateDict(): Promise<StateDict> {
  const visual = await readCheckpoint(join(rnDir, 'visual.pt'));
  const clip = await readCheckpoint(join(FIXTURES, 'tiny-quickgelu/open_clip_pytorch_model.bin'));
  const sd: StateDict = new Map();
  for (const [k, t] of visual) if (t.data instanceof Float32Array) sd.set(k, t); // num_batches_tracked counters left out, as torchSave writes floats
  for (const [k, t] of clip) if (!k.startsWith('visual.')) sd.set(k, t);
  return sd;
}

async function rnFolder(): Promise<string> {
  const sd = await rnStateDict();
  const dir = join(tempDir('clipmed-rn-'), 'RN-tiny');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const c = ref.config;
  const config = {
    model_cfg: {
      embed_dim: c.embed_dim,
      vision_cfg: { image_size: c.image_size, layers: c.layers, width: c.width, head_width: c.head_width, patch_size: null },
      text_cfg: { context_length: 77, vocab_size: 49408, width: 32, heads: 2, layers: 2 },
      quick_gelu: true,
    },
  };
  writeFileSync(join(dir, 'open_clip_config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'open_clip_pytorch_model.bin'), torchSave(sd));
  return dir;
}

async function checkAgainstReferences(model: ClipModel): Promise<void> {
  const E = model.embedDim;
  const img = await model.embedPixels(Float32Array.from(ref.pixel_values), 2, { patchTokens: true, patchEmbeds: true });
  assert.ok(maxRelError(img.embeddings, ref.image_embeds, E) < 1e-4, `image ${maxRelError(img.embeddings, ref.image_embeds, E)}`);
  assert.ok(maxRelError(img.patchTokens!, ref.patch_tokens, ref.config.width * 32) < 1e-4, 'patch tokens');
  assert.ok(maxRelError(img.patchEmbeds!, ref.patch_embeds, E) < 1e-4, 'patch embeds');
  const txt = await model.embedTexts(textRef.texts);
  assert.ok(maxRelError(txt.embeddings, textRef.text_features.flat(), E) < 1e-4, 'text');
}

test('open_clip RN folder: the ModifiedResNet tower is chosen from vision_cfg and both towers agree with open_clip', async () => {
  const model = await ClipModel.load(await rnFolder(), { threads: 1 });
  assert.equal(model.meta.spec?.vision.kind, 'open_clip-modified-resnet');
  assert.deepEqual(model.meta.patchTokens, { grid: 3, width: ref.config.width * 32 });
  await checkAgainstReferences(model);
  await model.release();
});

test('an OpenAI-format RN state dict inside a training checkpoint (PubMedCLIP RN50 best_model.pth: {epoch, state_dict}) loads with sizes from its shapes', async () => {
  const file = join(tempDir('clipmed-rn-'), 'best_model.pth');
  writeFileSync(file, torchSave(await rnStateDict(), { wrap: 'state_dict' }));
  // shapes cannot tell head counts: the tiny text tower's heads are 16 wide (OpenAI's are 64)
  const model = await ClipModel.load(file, { threads: 1, overrides: { textHeadWidth: 16 } });
  assert.equal(model.meta.format, 'openai');
  assert.equal(model.meta.spec?.vision.kind, 'open_clip-modified-resnet');
  assert.deepEqual(model.meta.spec?.vision.config, { layers: ref.config.layers, width: ref.config.width, heads: ref.config.heads, imageSize: ref.config.image_size, embedDim: ref.config.embed_dim });
  assert.equal(model.meta.preprocess.size, ref.config.image_size);
  await checkAgainstReferences(model);
  await model.release();
});

test('clipmed classify (zero-shot) runs on the RN folder: softmax over labels as the library computes it', async () => {
  const dir = await rnFolder();
  const xrays = ['pneumonia-cxr/test/NORMAL/IM-0023-0001.jpeg', 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg'].map((f) => join(DATA, f));
  const r = cli({ CLIPMED_CACHE: cache })('classify', '--model', dir, '--labels', 'normal,pneumonia', '-T', 'a chest x-ray showing {}', ...xrays, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.results.length, 2);
  const m = await ClipModel.load(dir, { threads: 1 });
  const img = await m.embedImageFiles(xrays, { normalize: true });
  const txt = await m.embedTexts(['a chest x-ray showing normal', 'a chest x-ray showing pneumonia'], { normalize: true });
  const E = m.embedDim;
  const scale = m.meta.score.logitScale;
  for (let i = 0; i < 2; i++) {
    const z = [0, 1].map((j) => {
      let s = 0;
      for (let k = 0; k < E; k++) s += img.embeddings[i * E + k]! * txt.embeddings[j * E + k]!;
      return scale * s;
    });
    const p0 = 1 / (1 + Math.exp(z[1]! - z[0]!));
    assert.ok(Math.abs(out.results[i].scores.normal - p0) < 1e-5, `${out.results[i].scores.normal} vs ${p0}`);
  }
  await m.release();
});
