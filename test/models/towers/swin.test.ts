// Swin (transformers' SwinModel, MedCLIP's image tower) against a PyTorch model written from transformers'
// modeling_swin.py with its key names (test/fixtures/towers/swin/make_reference.py: transformers itself cannot
// be installed here), on a tiny random-weight model with shifted windows, masks and the single-window last stage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CheckpointError, ConfigError, UnsupportedError } from '../../../src/errors.ts';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import { Weights } from '../../../src/models/weights.ts';
import { buildSwin, swinConfigFromHf, type SwinConfig } from '../../../src/models/towers/index.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture, runImageTower } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('swin');
const file = join(dir, 'vision_model.pt');
const E = ref.config.projection_dim;
const head = { key: 'projection_head', embedDim: E, bias: false };
const cfg: SwinConfig = swinConfigFromHf(ref.config, 'model.', head);

test('swin: image, token and projected token embeddings agree with the reference to 1e-4', async () => {
  const sd = await readCheckpoint(file);
  const w = new Weights(sd, file);
  const graph = buildSwin(cfg, w, 'vision_model.');
  w.finish(['vision_model.']);
  const out = await runImageTower(graph, ref);
  const C = ref.patch_tokens_shape[2];
  assert.deepEqual(out.patch_tokens!.dims, ref.patch_tokens_shape);
  const errs = {
    image: maxRelError(out.image_embeds!.data, ref.image_embeds, E),
    tokens: maxRelError(out.patch_tokens!.data, ref.patch_tokens, C),
    dense: maxRelError(out.patch_embeds!.data, ref.patch_embeds, E),
  };
  for (const [k, e] of Object.entries(errs)) assert.ok(e < 1e-4, `${k}: relative error ${e}`);
  // without the head, image_embeds is transformers' pooler_output
  const bare = await runImageTower(buildSwin({ ...cfg, head: null }, new Weights(sd, file), 'vision_model.'), ref);
  assert.ok(maxRelError(bare.image_embeds!.data, ref.pooler_output, C) < 1e-4);
});

test('swin: a wrong relative position index or a missing key is refused with its name', async () => {
  const sd = await readCheckpoint(file);
  const key = 'vision_model.model.encoder.layers.1.blocks.0.attention.self.relative_position_index';
  const t = sd.get(key)!;
  const data = (t.data as BigInt64Array).slice();
  data[1] = data[0]!;
  sd.set(key, { ...t, data });
  assert.throws(() => buildSwin(cfg, new Weights(sd, file), 'vision_model.'), (e: unknown) => e instanceof ConfigError && e.message.includes(key));
  sd.delete(key);
  sd.delete('vision_model.model.encoder.layers.0.downsample.reduction.weight');
  const w = new Weights(sd, file);
  buildSwin(cfg, w, 'vision_model.');
  assert.throws(() => w.finish(['vision_model.']), (e: unknown) => e instanceof CheckpointError && /layers\.0\.downsample\.reduction\.weight/.test(e.message));
});

test('swin: config.json fields it cannot build are errors, not silently different graphs', () => {
  assert.throws(() => swinConfigFromHf({ ...ref.config, use_absolute_embeddings: true }, 'model.', null), UnsupportedError);
  assert.throws(() => swinConfigFromHf({ ...ref.config, depths: 'x' }, 'model.', null), ConfigError);
});
