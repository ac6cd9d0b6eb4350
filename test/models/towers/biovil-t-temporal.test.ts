// BioViL-T with a previous image (hi-ml's MultiImageModel: both images through the trunk, backbone_to_vit, the
// VisionTransformerPooler comparing current with previous patches, [current; pooled] through the projector)
// against hi-ml's own code on a tiny random-weight model (test/fixtures/towers/biovil-t-temporal/make_reference.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import { Weights } from '../../../src/models/weights.ts';
import { buildTorchvisionResNet, buildTorchvisionResNetWithPrevious, inferResNetTrunk, type TorchvisionResNetConfig } from '../../../src/models/towers/torchvision-resnet.ts';
import { sinePositionEmbedding } from '../../../src/models/towers/temporal-pooler.ts';
import { nodeBackend } from '../../../src/node/ort-backend.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('biovil-t-temporal');
const file = join(dir, 'image_model.pt');
const c = ref.config;
const E = c.joint_feature_size;

async function config(): Promise<{ cfg: TorchvisionResNetConfig; sd: Awaited<ReturnType<typeof readCheckpoint>> }> {
  const sd = await readCheckpoint(file);
  const cfg: TorchvisionResNetConfig = {
    ...inferResNetTrunk(sd, file, 'encoder.encoder.'), imageSize: c.image_size, trunk: 'encoder.encoder.',
    neck: { kind: 'missing-previous', key: 'encoder.', dim: c.pooler_dim, pooler: { grid: [c.grid, c.grid], heads: c.heads, blocks: c.blocks, mlpHidden: c.pooler_dim } },
    head: { kind: 'conv-mlp', key: 'projector.model.', hidden: E, embedDim: E },
  };
  return { cfg, sd };
}

test('biovil-t temporal: the sine position embedding is hi-ml\'s buffer', () => {
  const got = sinePositionEmbedding(c.grid, c.grid, c.pooler_dim);
  assert.ok(maxRelError(got, ref.pos_embed, c.pooler_dim) < 1e-6);
  // at BioViL-T's own grid, 14 x 14 (stored at every 7th value)
  const big = sinePositionEmbedding(14, 14, c.pooler_dim).filter((_, i) => i % 7 === 0);
  assert.ok(maxRelError(big, ref.pos_embed_14_every_7th, big.length) < 1e-6);
});

test('biovil-t temporal: current + previous image agree with hi-ml\'s MultiImageModel to 1e-4', async () => {
  const { cfg, sd } = await config();
  const w = new Weights(sd, file);
  const graph = buildTorchvisionResNetWithPrevious(cfg, w);
  w.finish(['']); // every key used: the pooler now, the missing-previous embedding named as unused
  const s = await nodeBackend.create(graph.bytes, { threads: 1 });
  try {
    const out = await s.run({
      pixel_values: { data: Float32Array.from(ref.pixel_values), dims: ref.pixel_values_shape },
      previous_pixel_values: { data: Float32Array.from(ref.previous_pixel_values), dims: ref.previous_pixel_values_shape },
    });
    assert.deepEqual(out.patch_tokens!.dims, ref.patch_tokens_shape);
    const errs = {
      image: maxRelError(out.image_embeds!.data, ref.image_embeds, E),
      tokens: maxRelError(out.patch_tokens!.data, ref.patch_tokens, 2 * c.pooler_dim),
      dense: maxRelError(out.patch_embeds!.data, ref.patch_embeds, E),
    };
    console.log(`biovil-t temporal relative error: ${Object.entries(errs).map(([k, e]) => `${k} ${e.toExponential(2)}`).join(', ')}`);
    for (const [k, e] of Object.entries(errs)) assert.ok(e < 1e-4, `${k}: relative error ${e}`);
    // the previous image changes the embedding (the single-image path is a different one)
    assert.ok(maxRelError(out.image_embeds!.data, ref.single_image_embeds, E) > 1e-2);
  } finally {
    await s.release();
  }
});

test('biovil-t temporal: the single-image graph of the same weights is hi-ml\'s forward without a previous image', async () => {
  const { cfg, sd } = await config();
  const w = new Weights(sd, file);
  const graph = buildTorchvisionResNet(cfg, w);
  w.finish(['']);
  const s = await nodeBackend.create(graph.bytes, { threads: 1 });
  try {
    const out = await s.run({ pixel_values: { data: Float32Array.from(ref.pixel_values), dims: ref.pixel_values_shape } });
    assert.ok(maxRelError(out.image_embeds!.data, ref.single_image_embeds, E) < 1e-4);
  } finally {
    await s.release();
  }
});

test('biovil-t temporal: a grid the pooler does not take, or a tower without the pooler, is a ConfigError', async () => {
  const { cfg, sd } = await config();
  assert.throws(() => buildTorchvisionResNetWithPrevious({ ...cfg, imageSize: 2 * c.image_size }, new Weights(sd, file)), /takes a 2 x 2 grid; 128 px images give 4 x 4/);
  assert.throws(() => buildTorchvisionResNetWithPrevious({ ...cfg, neck: { kind: 'missing-previous', key: 'encoder.', dim: c.pooler_dim } }, new Weights(sd, file)), /needs the temporal neck/);
});
