// MedCLIP's text tower against MedCLIP's own MedCLIPTextModel on a tiny random-weight model
// (test/fixtures/towers/medclip-text/make_reference.py; its BERT layers come from a transformers stand-in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCheckpoint } from '../../../src/node/checkpoint-files.ts';
import { ConfigError } from '../../../src/errors.ts';
import { Weights } from '../../../src/models/weights.ts';
import { nodeBackend } from '../../../src/node/ort-backend.ts';
import { buildMedclipText, type MedclipTextConfig } from '../../../src/models/towers/index.ts';
import { maxRelError } from '../../helpers/reference.ts';
import { loadTowerFixture } from './tower-helpers.ts';

const { dir, ref } = loadTowerFixture('medclip-text');
const file = join(dir, 'text_model.pt');
const c = ref.config;
const cfg: MedclipTextConfig = {
  name: 'emilyalsentzer/Bio_ClinicalBERT', width: c.hidden_size, layers: c.num_hidden_layers, heads: c.num_attention_heads, intermediate: c.intermediate_size,
  vocabSize: c.vocab_size, maxPositions: c.max_position_embeddings, typeVocab: c.type_vocab_size, eps: c.layer_norm_eps, padId: 0, lowercase: false,
  embedDim: c.projection_dim, poolStates: [1, 2, -1], projBias: false,
};

async function run(ids: number[][], mask: number[][], config = cfg) {
  const sd = await readCheckpoint(file);
  const w = new Weights(sd, file);
  const graph = buildMedclipText(config, w);
  w.finish(['text_model.']);
  const session = await nodeBackend.create(graph.bytes, { threads: 1 });
  const dims = [ids.length, ids[0]!.length];
  const out = await session.run({ input_ids: { data: BigInt64Array.from(ids.flat(), BigInt), dims }, attention_mask: { data: BigInt64Array.from(mask.flat(), BigInt), dims } });
  await session.release();
  return out.text_embeds!.data;
}

test('medclip-text: the mean of hidden states 1, 2 and last through projection_head agrees with MedCLIPTextModel to 1e-4', async () => {
  const out = await run(ref.input_ids, ref.attention_mask);
  const err = maxRelError(out, ref.text_embeds, c.projection_dim);
  assert.ok(err < 1e-4, `text: relative error ${err}`);
});

test('medclip-text: as in MedCLIP, padding changes the embedding (the mean is not masked); a missing state is an error', async () => {
  const row = (ref.input_ids as number[][])[0]!;
  const m = (ref.attention_mask as number[][])[0]!;
  const short = await run([row.slice(0, 5)], [m.slice(0, 5)]);
  const err = maxRelError(short, (ref.text_embeds as number[]).slice(0, c.projection_dim), c.projection_dim);
  assert.ok(err > 1e-3, `padding to 7 and to 5 gave the same embedding (${err})`);
  await assert.rejects(run(ref.input_ids, ref.attention_mask, { ...cfg, poolStates: [1, 9] }), ConfigError);
});
