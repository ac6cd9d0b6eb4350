// BioViL-T's image model on single images (hi-ml's MultiImageEncoder without a previous image: the trunk's map
// through backbone_to_vit, joined by the learned missing-previous embedding, then BioViL's projector) against
// hi-ml's own ImageModel (test/fixtures/towers/biovil-t/make_reference.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import type { StateDict } from '../../../src/checkpoint/types.ts';
import { Weights } from '../../../src/models/weights.ts';
import { buildTorchvisionResNet, inferResNetTrunk, torchvisionResNetCells, type TorchvisionResNetConfig } from '../../../src/models/towers/index.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture, runImageTower } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('biovil-t');
const file = join(dir, 'image_model.pt');
const E = ref.config.joint_feature_size;

/** The fixture's weights with the ViT pooler's keys put back (zeros: the single-image path never reads them). */
async function stateDict(): Promise<StateDict> {
  const sd = await readCheckpoint(file);
  for (const [k, shape] of Object.entries(ref.vit_pooler_keys as Record<string, number[]>)) {
    sd.set(k, { dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  }
  return sd;
}

test('biovil-t: single-image projected global and patch embeddings and the fused map agree with hi-ml to 1e-4', async () => {
  const sd = await stateDict();
  assert.ok(Object.keys(ref.vit_pooler_keys).length > 10);
  const cfg: TorchvisionResNetConfig = {
    ...inferResNetTrunk(sd, file, 'encoder.encoder.'), imageSize: ref.config.image_size, trunk: 'encoder.encoder.',
    neck: { kind: 'missing-previous', key: 'encoder.', dim: 256 }, head: { kind: 'conv-mlp', key: 'projector.model.', hidden: E, embedDim: E },
  };
  assert.deepEqual(torchvisionResNetCells(cfg), { grid: 3, width: 512 });
  const w = new Weights(sd, file);
  const graph = buildTorchvisionResNet(cfg, w);
  w.finish(['']); // every key used or, for the ViT pooler, ignored as a part no tower builds
  const out = await runImageTower(graph, ref);
  assert.deepEqual(out.patch_tokens!.dims, ref.patch_tokens_shape);
  const errs = {
    image: maxRelError(out.image_embeds!.data, ref.image_embeds, E),
    tokens: maxRelError(out.patch_tokens!.data, ref.patch_tokens, 512),
    dense: maxRelError(out.patch_embeds!.data, ref.patch_embeds, E),
  };
  for (const [k, e] of Object.entries(errs)) assert.ok(e < 1e-4, `${k}: relative error ${e}`);
});
