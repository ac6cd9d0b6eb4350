// torchvision's ResNet with BioViL's projector against hi-ml-multimodal's own ImageModel on a tiny random-weight
// model (test/fixtures/towers/torchvision-resnet/make_reference.py), stored in float16 as the fixture keeps it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CheckpointError } from '../../../src/errors.ts';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import { Weights } from '../../../src/models/weights.ts';
import { buildTorchvisionResNet, inferResNetTrunk, type TorchvisionResNetConfig } from '../../../src/models/towers/index.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture, runImageTower } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('torchvision-resnet');
const file = join(dir, 'image_model.pt');
const E = ref.config.joint_feature_size;
const C = 512 * ref.config.expansion;

async function config(head: TorchvisionResNetConfig['head']): Promise<TorchvisionResNetConfig> {
  const sd = await readCheckpoint(file);
  return { ...inferResNetTrunk(sd, file, 'encoder.encoder.'), imageSize: ref.config.image_size, trunk: 'encoder.encoder.', head };
}

test('torchvision-resnet: the trunk is read from the state dict shapes', async () => {
  const cfg = await config({ kind: 'pool' });
  assert.deepEqual([cfg.layers, cfg.widthPerGroup, cfg.expansion], [ref.config.layers, ref.config.width_per_group, ref.config.expansion]);
});

test('torchvision-resnet: BioViL projected global and patch embeddings and the trunk cells agree with hi-ml to 1e-4', async () => {
  const sd = await readCheckpoint(file);
  const w = new Weights(sd, file);
  const graph = buildTorchvisionResNet(await config({ kind: 'conv-mlp', key: 'projector.model.', hidden: E, embedDim: E }), w);
  w.finish(['']); // every key of the checkpoint used (the ImageNet fc ignored by name)
  const out = await runImageTower(graph, ref);
  assert.deepEqual(out.patch_tokens!.dims, ref.patch_tokens_shape);
  const errs = {
    image: maxRelError(out.image_embeds!.data, ref.image_embeds, E),
    tokens: maxRelError(out.patch_tokens!.data, ref.patch_tokens, C),
    dense: maxRelError(out.patch_embeds!.data, ref.patch_embeds, E),
  };
  for (const [k, e] of Object.entries(errs)) assert.ok(e < 1e-4, `${k}: relative error ${e}`);
});

test('torchvision-resnet: with no head the image embedding is the average-pooled trunk (hi-ml img_embedding)', async () => {
  const sd = await readCheckpoint(file);
  const out = await runImageTower(buildTorchvisionResNet(await config({ kind: 'pool' }), new Weights(sd, file)), ref);
  const err = maxRelError(out.image_embeds!.data, ref.pooled, C);
  assert.ok(err < 1e-4, `pooled: relative error ${err}`);
});

test('torchvision-resnet: a projector of the wrong size is a CheckpointError naming its keys', async () => {
  const sd = await readCheckpoint(file);
  const w = new Weights(sd, file);
  buildTorchvisionResNet(await config({ kind: 'conv-mlp', key: 'projector.model.', hidden: 2 * E, embedDim: E }), w);
  assert.throws(() => w.finish(['']), (e: unknown) => e instanceof CheckpointError && /projector\.model\.0\.weight/.test(e.message) && e.message.includes(file));
});

test('torchvision-resnet: a linear head on the pooled features (torchvision fc; MedCLIP-ResNet) is ResNet.forward', async () => {
  const sd = await readCheckpoint(file);
  const w = new Weights(sd, file);
  const graph = buildTorchvisionResNet(await config({ kind: 'linear', key: 'encoder.encoder.fc', embedDim: ref.config.num_classes, bias: true }), w);
  const out = await runImageTower(graph, ref);
  const err = maxRelError(out.image_embeds!.data, ref.fc_out, ref.config.num_classes);
  assert.ok(err < 1e-4, `fc: relative error ${err}`);
  assert.deepEqual(out.patch_embeds!.dims, [2, 9, ref.config.num_classes]);
});
