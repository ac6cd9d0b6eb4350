// open_clip's CoCa towers against open_clip v2.24.0's own CoCa on a tiny random-weight model in its hub folder
// layout (test/fixtures/towers/open-clip-coca/make_reference.py), through the open_clip reader and the registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import { ConfigError } from '../../../src/errors.ts';
import { buildFromSpec, readModelSpec } from '../../../src/models/readers/index.ts';
import { memoryFiles } from '../../../src/models/spec.ts';
import { openClipCocaTextConfig, openClipCocaVisionConfig } from '../../../src/models/towers/index.ts';
import { nodeBackend } from '../../../src/node/ort-backend.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture, runImageTower } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('open-clip-coca');
const file = join(dir, 'open_clip_pytorch_model.bin');
const configBytes = new Uint8Array(readFileSync(join(dir, 'open_clip_config.json')));

test('open_clip CoCa folder: the reader picks the CoCa towers, every key but the caption decoder is used, and both towers agree with open_clip', async () => {
  const sd = await readCheckpoint(file);
  const spec = readModelSpec({ format: 'open_clip', files: memoryFiles(dir, { 'open_clip_config.json': configBytes }), weightsFile: file, sd });
  assert.deepEqual([spec.vision.kind, spec.text.kind, spec.text.prefix], ['open_clip-coca-vision', 'open_clip-coca-text', 'text.']);
  assert.deepEqual(spec.tokenizer, { tokenizer: { kind: 'clip-bpe' }, contextLength: 10, padId: 0, cutToEnd: false, attentionMask: false, tokenTypeIds: false });
  assert.deepEqual(spec.patchTokens, { grid: 4, width: 24 });
  assert.ok(spec.scoring.kind === 'softmax' && Math.abs(spec.scoring.logitScale - ref.logit_scale) < 1e-4 * ref.logit_scale);
  const { vision, text } = buildFromSpec(spec, sd, file); // throws on any unused or missing key

  const out = await runImageTower(vision, ref);
  const errs = {
    image: maxRelError(out.image_embeds!.data, ref.image_embeds, 16),
    tokens: maxRelError(out.patch_tokens!.data, ref.patch_tokens, 24),
    dense: maxRelError(out.patch_embeds!.data, ref.patch_embeds, 16),
  };
  for (const [k, e] of Object.entries(errs)) assert.ok(e < 1e-4, `${k}: relative error ${e}`);

  const ids = ref.input_ids as number[][];
  const session = await nodeBackend.create(text.bytes, { threads: 1 });
  const t = await session.run({ input_ids: { data: BigInt64Array.from(ids.flat(), BigInt), dims: [ids.length, ids[0]!.length] } });
  await session.release();
  const err = maxRelError(t.text_embeds!.data, ref.text_embeds, 16);
  assert.ok(err < 1e-4, `text: relative error ${err}`);
});

test('open_clip CoCa configs the towers do not build are errors naming the field', () => {
  const cfg = JSON.parse(new TextDecoder().decode(configBytes)).model_cfg;
  assert.throws(() => openClipCocaVisionConfig({ ...cfg.vision_cfg, attentional_pool: 'parallel' }, 16, false, 'x.json'), (e: unknown) => e instanceof ConfigError && /attentional_pool/.test((e as Error).message));
  assert.throws(() => openClipCocaTextConfig({ ...cfg.text_cfg, proj_bias: true }, 16, false, 'x.json'), (e: unknown) => e instanceof ConfigError && /proj_bias/.test((e as Error).message));
});
