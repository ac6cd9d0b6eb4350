// open_clip's ModifiedResNet (OpenAI RN50 CLIP image tower) against open_clip v2.24.0 itself on a tiny
// random-weight tower (test/fixtures/towers/modified-resnet/make_reference.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CheckpointError, ConfigError } from '../../../src/errors.ts';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import { Weights } from '../../../src/models/weights.ts';
import { buildModifiedResNet, inferModifiedResNetConfig } from '../../../src/models/towers/index.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture, runImageTower } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('modified-resnet');
const file = join(dir, 'visual.pt');

test('modified-resnet: the architecture is inferred from the state dict as open_clip infers it', async () => {
  const sd = await readCheckpoint(file);
  const cfg = inferModifiedResNetConfig(sd, file);
  assert.deepEqual(cfg, { layers: ref.config.layers, width: ref.config.width, heads: ref.config.heads, imageSize: ref.config.image_size, embedDim: ref.config.embed_dim });
  sd.delete('visual.attnpool.positional_embedding');
  assert.throws(() => inferModifiedResNetConfig(sd, file), (e: unknown) => e instanceof ConfigError && /attnpool\.positional_embedding/.test(e.message) && e.message.includes(file));
});

test('modified-resnet: image embeddings, feature-map cells and dense embeddings agree with open_clip to 1e-4', async () => {
  const sd = await readCheckpoint(file);
  const w = new Weights(sd, file);
  const graph = buildModifiedResNet(inferModifiedResNetConfig(sd, file), w);
  w.finish(['visual.']); // every key used, BatchNorm buffers included
  const out = await runImageTower(graph, ref);
  const E = ref.config.embed_dim;
  const C = ref.config.width * 32;
  assert.deepEqual(out.patch_tokens!.dims, ref.patch_tokens_shape);
  const errs = {
    image: maxRelError(out.image_embeds!.data, ref.image_embeds, E),
    tokens: maxRelError(out.patch_tokens!.data, ref.patch_tokens, C),
    dense: maxRelError(out.patch_embeds!.data, ref.patch_embeds, E),
  };
  for (const [k, e] of Object.entries(errs)) assert.ok(e < 1e-4, `${k}: relative error ${e}`);
});

test('modified-resnet: a missing or misshapen key is a CheckpointError naming it', async () => {
  const sd = await readCheckpoint(file);
  const cfg = inferModifiedResNetConfig(sd, file);
  sd.delete('visual.layer2.0.bn2.running_var');
  const t = sd.get('visual.layer3.0.downsample.0.weight')!;
  sd.set('visual.layer3.0.downsample.0.weight', { ...t, shape: [t.shape[0]!, t.shape[1]! / 2, 2, 1] });
  const w = new Weights(sd, file);
  buildModifiedResNet(cfg, w);
  assert.throws(() => w.finish(['visual.']), (e: unknown) => e instanceof CheckpointError && /layer2\.0\.bn2\.running_var/.test(e.message) && /layer3\.0\.downsample\.0\.weight/.test(e.message));
});
