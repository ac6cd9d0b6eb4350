// CONCH's CoCa towers against CONCH's own code (github:mahmoodlab/CONCH with timm v0.9.16) on a tiny
// random-weight model (test/fixtures/towers/conch/make_reference.py): attentional poolers, the class-token text
// tower with its padding rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import { CheckpointError, ConfigError } from '../../../src/errors.ts';
import { Weights } from '../../../src/models/weights.ts';
import { nodeBackend } from '../../../src/node/ort-backend.ts';
import { buildConchText, buildConchVision, conchConfigs } from '../../../src/models/towers/index.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture, runImageTower } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('conch');
const file = join(dir, 'pytorch_model.bin');
const cfg = conchConfigs(ref.config);
const E = ref.config.embed_dim;

test('conch: the image tower (contrastive embedding, patch tokens, dense embeddings, caption tokens) agrees with CONCH to 1e-4', async () => {
  const sd = await readCheckpoint(file);
  const w = new Weights(sd, file);
  const graph = buildConchVision(cfg.vision, w, 'visual.');
  w.finish(['visual.']);
  const out = await runImageTower(graph, ref);
  assert.deepEqual(out.patch_tokens!.dims, ref.patch_tokens_shape);
  assert.deepEqual(out.caption_tokens!.dims, ref.caption_tokens_shape);
  const W = ref.config.vision_cfg.width;
  const errs = {
    image: maxRelError(out.image_embeds!.data, ref.image_embeds, E),
    tokens: maxRelError(out.patch_tokens!.data, ref.patch_tokens, W),
    dense: maxRelError(out.patch_embeds!.data, ref.patch_embeds, E),
    caption: maxRelError(out.caption_tokens!.data, ref.caption_tokens, ref.config.embed_dim_caption),
  };
  for (const [k, e] of Object.entries(errs)) assert.ok(e < 1e-4, `${k}: relative error ${e}`);
});

test('conch: the text tower agrees with encode_text, padding hidden from the class token as CONCH hides it', async () => {
  const sd = await readCheckpoint(file);
  const w = new Weights(sd, file);
  const graph = buildConchText(cfg.text, w, 'text.');
  w.finish(['text.']);
  const session = await nodeBackend.create(graph.bytes, { threads: 1 });
  const ids = ref.text_input_ids as number[][];
  const out = await session.run({ input_ids: { data: BigInt64Array.from(ids.flat(), BigInt), dims: [ids.length, ids[0]!.length] } });
  await session.release();
  const err = maxRelError(out.text_embeds!.data, ref.text_embeds, E);
  assert.ok(err < 1e-4, `text: relative error ${err}`);
});

test('conch: a config without the attentional pooler or class token, or a missing key, is refused by name', async () => {
  assert.throws(() => conchConfigs({ ...ref.config, text_cfg: { ...ref.config.text_cfg, embed_cls: false } }), ConfigError);
  assert.throws(() => conchConfigs({ ...ref.config, vision_cfg: { ...ref.config.vision_cfg, attentional_pool_contrast: false } }), ConfigError);
  const sd = await readCheckpoint(file);
  sd.delete('visual.attn_pool_contrast.attn.k_proj_weight');
  const w = new Weights(sd, file);
  buildConchVision(cfg.vision, w, 'visual.');
  assert.throws(() => w.finish(['visual.']), (e: unknown) => e instanceof CheckpointError && /attn_pool_contrast\.attn\.k_proj_weight/.test(e.message));
});
