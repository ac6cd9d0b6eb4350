// GLoRIA's image encoder (torchvision ResNet, in-graph upsample to 299, global and local embedders) against
// GLoRIA's own ImageEncoder on a tiny random-weight model (test/fixtures/towers/gloria/make_reference.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import { Weights } from '../../../src/models/weights.ts';
import { buildTorchvisionResNet, inferResNetTrunk, torchvisionResNetCells, type TorchvisionResNetConfig } from '../../../src/models/towers/index.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture, runImageTower } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('gloria');
const file = join(dir, 'image_encoder.pt');
const E = ref.config.embedding_dim;

/** Every `stride`-th value, as the fixture stores the large maps. */
const strided = (a: Float32Array, stride: number) => Float32Array.from({ length: Math.ceil(a.length / stride) }, (_, i) => a[i * stride]!);

test('gloria: global embedding, layer-3 region tokens and local embeddings agree with GLoRIA to 1e-4', async () => {
  const sd = await readCheckpoint(file);
  const trunk = 'gloria.img_encoder.model.';
  const cfg: TorchvisionResNetConfig = {
    ...inferResNetTrunk(sd, file, trunk), imageSize: ref.pixel_values_shape[2], inputSize: ref.config.input_size, trunk,
    head: { kind: 'gloria', globalKey: 'gloria.img_encoder.global_embedder', localKey: 'gloria.img_encoder.local_embedder', embedDim: E },
  };
  assert.deepEqual(torchvisionResNetCells(cfg), { grid: 19, width: 256 });
  const w = new Weights(sd, file);
  const graph = buildTorchvisionResNet(cfg, w);
  w.finish(['gloria.']);
  const out = await runImageTower(graph, ref);
  assert.deepEqual(out.patch_tokens!.dims, ref.patch_tokens_shape);
  const errs = {
    image: maxRelError(out.image_embeds!.data, ref.image_embeds, E),
    // the maps are stored at every 7th value: compared as one row each, relative to their largest value
    tokens: maxRelError(strided(out.patch_tokens!.data, ref.stride), ref.patch_tokens, ref.patch_tokens.length),
    dense: maxRelError(strided(out.patch_embeds!.data, ref.stride), ref.patch_embeds, ref.patch_embeds.length),
  };
  for (const [k, e] of Object.entries(errs)) assert.ok(e < 1e-4, `${k}: relative error ${e}`);
});
