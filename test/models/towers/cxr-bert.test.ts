// CXR-BERT's projected text embedding (BioViL's text tower) against hi-ml-multimodal's CXRBertModel on a tiny
// random-weight model in the hub layout (test/fixtures/towers/cxr-bert/make_reference.py; its BERT layers come
// from a transformers stand-in written from modeling_bert.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import { ConfigError } from '../../../src/errors.ts';
import { Weights } from '../../../src/models/weights.ts';
import { nodeBackend } from '../../../src/node/ort-backend.ts';
import { buildCxrBertText, cxrBertConfig } from '../../../src/models/towers/index.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('cxr-bert');
const file = join(dir, 'pytorch_model.bin');
const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;

test('cxr-bert: projected [CLS] embeddings agree with CXRBertModel.get_projected_text_embeddings to 1e-4', async () => {
  const sd = await readCheckpoint(file);
  const cfg = cxrBertConfig(hf, sd, file);
  assert.deepEqual([cfg.width, cfg.layers, cfg.heads, cfg.projectionSize], [16, 2, 2, 16]);
  const w = new Weights(sd, file);
  const graph = buildCxrBertText(cfg, w);
  w.finish(['bert.', 'cls_projection_head.']); // the masked-LM head (cls.predictions.*) is left alone
  const ids = ref.input_ids as number[][];
  const mask = ref.attention_mask as number[][];
  const session = await nodeBackend.create(graph.bytes, { threads: 1 });
  const dims = [ids.length, ids[0]!.length];
  const out = await session.run({ input_ids: { data: BigInt64Array.from(ids.flat(), BigInt), dims }, attention_mask: { data: BigInt64Array.from(mask.flat(), BigInt), dims } });
  await session.release();
  const err = maxRelError(out.text_embeds!.data, ref.text_embeds, 16);
  assert.ok(err < 1e-4, `text: relative error ${err}`);
});

test('cxr-bert: a config that is not CXR-BERT or disagrees with the weights is refused', async () => {
  const sd = await readCheckpoint(file);
  assert.throws(() => cxrBertConfig({ ...hf, model_type: 'bert' }, sd, file), (e: unknown) => e instanceof ConfigError && /cxr-bert/.test((e as Error).message));
  assert.throws(() => cxrBertConfig({ ...hf, num_hidden_layers: 12 }, sd, file), (e: unknown) => e instanceof ConfigError && /12 layers, the weights have 2/.test((e as Error).message));
});
