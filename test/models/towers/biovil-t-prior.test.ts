// BioViL-T with a previous image from its hub folder layout (microsoft/BiomedVLP-BioViL-T: CXR-BERT's files and
// hi-ml's biovil_t_image_model_proj_size_128.pt): the reader sizes the ViT pooler from the weights, the prior graph
// is built beside the cached graphs, and at BioViL-T's 448 px it agrees with hi-ml's MultiImageModel given a
// previous image (test/fixtures/towers/biovil-t-temporal); `clipmed embed` / `classify --prior` run it on real X-rays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImageFile } from '../../../src/node/image-decode.ts';
import { ClipModel } from '../../../src/node/clip-model.ts';
import { embedPixelsWithPrior, embedWithPrior, takesPrior } from '../../../src/node/prior.ts';
import { cli } from '../../helpers/cli.ts';
import { DATA, isolateCache, maxRelError, SHARED, tempDir } from '../../helpers/reference.ts';
import { loadTowerFixture, TOWER_FIXTURES } from './tower-helpers.ts';

const cache = isolateCache();
const { ref } = loadTowerFixture('biovil-t-temporal');
const E = ref.config.joint_feature_size;
const CURRENT = join(DATA, 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');
const PREVIOUS = join(DATA, 'pneumonia-cxr/test/NORMAL/IM-0001-0001.jpeg');

function biovilTFolder(): string {
  const dir = join(tempDir('clipmed-biovil-t-'), 'BiomedVLP-BioViL-T');
  mkdirSync(dir);
  for (const f of ['config.json', 'pytorch_model.bin']) copyFileSync(join(TOWER_FIXTURES, 'cxr-bert', f), join(dir, f));
  copyFileSync(join(TOWER_FIXTURES, 'biovil-t-temporal', 'image_model.pt'), join(dir, 'biovil_t_image_model_proj_size_128.pt'));
  const vocab = Array.from({ length: 60 }, (_, i) => ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'][i] ?? ({ 13: 'pneumonia', 31: 'effusion' } as Record<number, string>)[i] ?? `[unused${i}]`);
  writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  return dir;
}

/** The fixture's 448 px pixels: value i of [1, 3, 448, 448] is ((i * k) % 2001 - 1000) / 1000. */
const formula = (k: number) => Float32Array.from({ length: 3 * 448 * 448 }, (_, i) => (((i * k) % 2001) - 1000) / 1000);

test('biovil-t prior: the folder\'s temporal tower agrees with hi-ml\'s MultiImageModel at 448 px; the graph is cached', async () => {
  const model = await ClipModel.load(biovilTFolder(), { threads: 1 });
  try {
    assert.ok(takesPrior(model));
    const neck = (model.meta.spec!.vision.config as { neck: { pooler: unknown } }).neck;
    assert.deepEqual(neck.pooler, { grid: [14, 14], heads: 8, blocks: ref.config.blocks, mlpHidden: ref.config.pooler_dim });
    const e = await embedPixelsWithPrior(model, formula(7919), formula(104729), 1, { threads: 1 });
    const err = maxRelError(e.embeddings, ref.image_embeds_448, E);
    console.log(`biovil-t prior at 448 px: relative error ${err.toExponential(2)}`);
    assert.ok(err < 1e-4, `relative error ${err}`);
    assert.ok(existsSync(join(model.compiled.dir, 'vision-prior.onnx')) && existsSync(join(model.compiled.dir, 'vision-prior.onnx.data')));
  } finally {
    await model.release();
  }
});

test('biovil-t prior: clipmed embed / classify --prior on real X-rays; a model without a temporal tower refuses --prior', async () => {
  const dir = biovilTFolder();
  const run = cli({ CLIPMED_CACHE: cache });
  const r = run('embed', '--model', dir, '--protocol', 'biovil-t', '--image', CURRENT, '--prior', PREVIOUS, '--json', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout).images[0].embedding as number[];
  const single = run('embed', '--model', dir, '--protocol', 'biovil-t', '--image', CURRENT, '--json', '--threads', '1');
  assert.equal(single.code, 0, single.stderr);
  // the library on the same decoded images gives the CLI's embedding; without the prior it is another one
  const model = await ClipModel.load(dir, { threads: 1, protocol: 'biovil-t' });
  try {
    const lib = await embedWithPrior(model, [await decodeImageFile(CURRENT)], [await decodeImageFile(PREVIOUS)], { threads: 1 });
    assert.ok(maxRelError(got, lib.embeddings, E) < 1e-6);
  } finally {
    await model.release();
  }
  assert.ok(maxRelError(got, JSON.parse(single.stdout).images[0].embedding, E) > 1e-3);
  const c = run('classify', '--model', dir, '--protocol', 'biovil-t', '--labels', 'pneumonia,effusion', '-T', '{}', CURRENT, '--prior', PREVIOUS, '--json', '--threads', '1');
  assert.equal(c.code, 0, c.stderr);
  const scores = JSON.parse(c.stdout).results[0].scores;
  assert.ok(Math.abs(scores.pneumonia + scores.effusion - 1) < 1e-6);
  const help = run('embed', '--help');
  assert.match(help.stdout, /--prior <image>/);
  const bad = run('embed', '--model', join(SHARED, 'fixtures/open_clip/tiny-quickgelu'), '--image', CURRENT, '--prior', PREVIOUS);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /no image path for a previous image/);
});
