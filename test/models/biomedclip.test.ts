// The open_clip custom-text family (timm ViT + Hugging Face BERT: BiomedCLIP, QuiltNet-B-16-PMB) against a tiny
// random-weight CustomTextCLIP made by open_clip v2.24.0 + timm v0.9.16 with a PyTorch BERT reference
// (test/fixtures/biomedclip/make_reference.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/node/checkpoint-files.ts';
import type { StateDict } from '../../src/checkpoint/types.ts';
import { CheckpointError, ConfigError, UnsupportedError } from '../../src/errors.ts';
import { ClipModel } from '../../src/node/clip-model.ts';
import { buildGraphs } from '../../src/node/compile.ts';
import { resolveLocalSource } from '../../src/node/source.ts';
import { parseTimmHfConfig } from '../../src/models/timm-hf-family.ts';
import { isolateCache, maxRelError, tempDir } from '../helpers/reference.ts';
import { torchSave } from '../helpers/torch-writer.ts';

isolateCache();

const HERE = new URL('../fixtures/biomedclip/', import.meta.url).pathname;
const TINY = join(HERE, 'tiny');
const WEIGHTS = 'open_clip_pytorch_model.bin';
const ref = JSON.parse(readFileSync(join(HERE, 'reference.json'), 'utf8')) as Record<string, any>;
const E = 24;

/** A copy of the fixture folder, changed by `edit`. */
function variant(edit: (dir: string) => void): string {
  const dir = join(tempDir('clipmed-biomedclip-'), 'model');
  cpSync(TINY, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editConfig(dir: string, f: (cfg: any) => void): void {
  const file = join(dir, 'open_clip_config.json');
  const j = JSON.parse(readFileSync(file, 'utf8'));
  f(j);
  writeFileSync(file, JSON.stringify(j));
}

async function fixtureWeights(): Promise<StateDict> {
  return readCheckpoint(join(TINY, WEIGHTS));
}

/** Re-save float tensors (torchSave writes floats only) with `extra` added. */
function saveWeights(dir: string, sd: StateDict, extra: Array<[string, number[], number[]]> = []): void {
  const out: StateDict = new Map([...sd].filter(([, t]) => t.data instanceof Float32Array));
  for (const [k, shape, data] of extra) out.set(k, { dtype: 'float32', shape, data: Float32Array.from(data) });
  writeFileSync(join(dir, WEIGHTS), torchSave(out));
}

test('biomedclip: the folder builds with the custom-text family; the config reads as BiomedCLIP does', async () => {
  const src = await resolveLocalSource(TINY);
  assert.equal(src.format, 'open_clip');
  const sd = await fixtureWeights();
  const cfg = parseTimmHfConfig(src.config!.model_cfg as any, sd, src.weightsFile);
  assert.equal(cfg.vision.kind, 'timm');
  if (cfg.vision.kind === 'timm') assert.deepEqual({ ...cfg.vision.timm }, { name: 'vit_base_patch16_224', width: 32, layers: 2, patchSize: 16, imageSize: 64, heads: 2, mlpWidth: 128, eps: 1e-6, projBias: false });
  assert.equal(cfg.text.bert.eps, 1e-12);
  assert.equal(cfg.text.bert.vocabSize, 289);
  assert.equal(cfg.text.bert.maxPositions, 40);
  assert.deepEqual([cfg.text.pooler, cfg.text.proj, cfg.text.contextLength], ['cls_last_hidden_state_pooler', 'mlp', 32]);
  const built = buildGraphs(src, sd);
  assert.equal(built.family, 'open_clip_custom_text');
  assert.deepEqual(built.textSpec, { tokenizer: { kind: 'wordpiece', vocabFile: 'vocab.txt', lowercase: true }, contextLength: 32, padId: 0, cutToEnd: false, attentionMask: true, tokenTypeIds: false });
  assert.deepEqual(built.patchTokens, { grid: 4, width: 32 });
  assert.equal(built.preprocess.size, 64);
});

test('biomedclip: tokens, image and text embeddings, patch tokens and logit scale agree with the reference', async () => {
  const model = await ClipModel.load(TINY, { threads: 1 });
  assert.equal(model.meta.family, 'open_clip_custom_text');
  assert.equal(model.embedDim, E);
  assert.deepEqual(Array.from(model.tokenize(ref.texts)), ref.tokens.flat());

  const n = ref.pixel_values_shape[0];
  const img = await model.embedPixels(Float32Array.from(ref.pixel_values), n, { patchTokens: true, patchEmbeds: true });
  const errs = {
    image: maxRelError(img.embeddings, ref.image_features, E),
    patchTokens: maxRelError(img.patchTokens!, ref.patch_tokens, ref.patch_tokens_shape[2]),
    patchEmbeds: maxRelError(img.patchEmbeds!, ref.patch_embeds, E),
  };
  const txt = await model.embedTexts(ref.texts);
  const textErr = maxRelError(txt.embeddings, ref.text_features, E);
  for (const [k, e] of Object.entries({ ...errs, text: textErr })) assert.ok(e < 1e-4, `${k}: max relative error ${e}`);
  assert.ok(Math.abs(model.meta.score.logitScale - ref.logit_scale) < 1e-4 * ref.logit_scale);
  await model.release();
});

test('biomedclip: open_clip mean_pooler and cls_pooler (BERT pooler dense + tanh) agree with the reference', async () => {
  const sd = await fixtureWeights();
  const mean = variant((d) => editConfig(d, (c) => { c.model_cfg.text_cfg.hf_pooler_type = 'mean_pooler'; }));
  const cls = variant((d) => {
    editConfig(d, (c) => { c.model_cfg.text_cfg.hf_pooler_type = 'cls_pooler'; });
    saveWeights(d, sd, [
      ['text.transformer.pooler.dense.weight', [32, 32], ref.bert_pooler.weight],
      ['text.transformer.pooler.dense.bias', [32], ref.bert_pooler.bias],
    ]);
  });
  for (const [dir, expected] of [[mean, ref.text_features_mean_pooler], [cls, ref.text_features_cls_pooler]] as const) {
    const m = await ClipModel.load(dir, { threads: 1 });
    const e = maxRelError((await m.embedTexts(ref.texts)).embeddings, expected, E);
    assert.ok(e < 1e-4, `${dir}: ${e}`);
    await m.release();
  }
});

test('biomedclip: legacy text_cfg spellings (proj, pooler_type) read as hf_proj_type / hf_pooler_type', async () => {
  const dir = variant((d) => editConfig(d, (c) => {
    const t = c.model_cfg.text_cfg;
    t.proj = t.hf_proj_type;
    t.pooler_type = t.hf_pooler_type;
    delete t.hf_proj_type;
    delete t.hf_pooler_type;
  }));
  const sd = await fixtureWeights();
  const built = buildGraphs(await resolveLocalSource(dir), sd);
  assert.equal((built.architecture.text as any).poolType, 'cls_last_hidden_state_pooler');
  const clash = variant((d) => editConfig(d, (c) => { c.model_cfg.text_cfg.pooler_type = 'mean_pooler'; }));
  assert.throws(() => buildGraphs(resolveSync(clash), sd), (e: Error) => e instanceof ConfigError && /disagree/.test(e.message));
});

/** resolveLocalSource without the promise, for assert.throws (the folder layout is known here). */
function resolveSync(dir: string) {
  const configText = readFileSync(join(dir, 'open_clip_config.json'), 'utf8');
  return { name: 'model', format: 'open_clip' as const, weightsFile: join(dir, WEIGHTS), config: JSON.parse(configText), configText };
}

/** The fixture's tensors plus `extra`, in memory. */
function withKeys(sd: StateDict, extra: Array<[string, number[], number[]]>): StateDict {
  const out = new Map(sd);
  for (const [k, shape, data] of extra) out.set(k, { dtype: 'float32', shape, data: Float32Array.from(data) });
  return out;
}

test('biomedclip: an unused BERT pooler is ignored; unknown keys, wrong sizes and a missing vocabulary are errors', async () => {
  const sd = await fixtureWeights();
  const src = resolveSync(TINY);
  const pooler: Array<[string, number[], number[]]> = [
    ['text.transformer.pooler.dense.weight', [32, 32], ref.bert_pooler.weight],
    ['text.transformer.pooler.dense.bias', [32], ref.bert_pooler.bias],
  ];
  assert.equal(buildGraphs(src, withKeys(sd, pooler)).family, 'open_clip_custom_text');
  assert.ok(sd.has('text.transformer.embeddings.position_ids')); // the int64 buffer is in the fixture and ignored
  assert.throws(() => buildGraphs(src, withKeys(sd, [['text.transformer.encoder.layer.0.extra.weight', [2], [1, 2]]])), /unexpected key 'text\.transformer\.encoder\.layer\.0\.extra\.weight'/);
  const short = new Map(sd);
  short.delete('text.proj.2.weight');
  assert.throws(() => buildGraphs(src, short), /missing key 'text\.proj\.2\.weight'/);

  const noPooler = variant((d) => editConfig(d, (c) => { c.model_cfg.text_cfg.hf_pooler_type = 'cls_pooler'; }));
  assert.throws(() => buildGraphs(resolveSync(noPooler), sd), /missing key 'text\.transformer\.pooler\.dense\.weight'/);

  // without the resize fields, the names' own sizes (ViT-B/16, BERT-base) disagree with the tiny weights
  const named = variant((d) => editConfig(d, (c) => {
    for (const k of ['width', 'layers', 'head_width', 'patch_size']) delete c.model_cfg.vision_cfg[k];
  }));
  assert.throws(() => buildGraphs(resolveSync(named), sd), (e: Error) => e instanceof CheckpointError && /width 32 \(config \/ 'vit_base_patch16_224': 768\)/.test(e.message));
  const bertNamed = variant((d) => editConfig(d, (c) => { delete c.model_cfg.text_cfg.width; }));
  assert.throws(() => buildGraphs(resolveSync(bertNamed), sd), /text weights do not match the configured BERT: width 32/);
  const unknown = variant((d) => editConfig(d, (c) => { c.model_cfg.text_cfg.hf_model_name = 'someone/roberta-base'; }));
  assert.throws(() => buildGraphs(resolveSync(unknown), sd), UnsupportedError);
  const timm = variant((d) => editConfig(d, (c) => { c.model_cfg.vision_cfg.timm_model_name = 'vit_base_patch16_clip_224'; }));
  assert.throws(() => buildGraphs(resolveSync(timm), sd), UnsupportedError);
  const avg = variant((d) => editConfig(d, (c) => { c.model_cfg.vision_cfg.timm_pool = 'avg'; }));
  assert.throws(() => buildGraphs(resolveSync(avg), sd), /timm_pool 'avg'/);
  const kw = variant((d) => editConfig(d, (c) => { c.model_cfg.text_cfg.tokenizer_kwargs = { clean: 'canonicalize' }; }));
  assert.throws(() => buildGraphs(resolveSync(kw), sd), /text_cfg: field\(s\) tokenizer_kwargs not supported/);
  const long = variant((d) => editConfig(d, (c) => { c.model_cfg.text_cfg.context_length = 256; }));
  assert.throws(() => buildGraphs(resolveSync(long), sd), /context_length 256 exceeds the BERT's 40 positions/);

  const cased = variant((d) => writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false, tokenizer_class: 'BertTokenizer' })));
  assert.throws(() => buildGraphs(resolveSync(cased), sd), /do_lower_case false, but the text model is uncased/);
  const roberta = variant((d) => writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'RobertaTokenizer' })));
  assert.throws(() => buildGraphs(resolveSync(roberta), sd), UnsupportedError);
  const agree = variant((d) => writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, tokenizer_class: 'BertTokenizerFast' })));
  assert.equal(buildGraphs(resolveSync(agree), sd).textSpec.tokenizer.kind, 'wordpiece');

  const noVocab = variant((d) => rmSync(join(d, 'vocab.txt')));
  assert.throws(() => buildGraphs(resolveSync(noVocab), sd), (e: Error) => e instanceof ConfigError && /vocab\.txt or tokenizer\.json/.test(e.message));
});

test('biomedclip: open_clip ViT + BERT (the UniMed-CLIP layout) agrees with the reference', async () => {
  const model = await ClipModel.load(join(HERE, 'tiny-native-vision'), { threads: 1 });
  assert.equal(model.meta.family, 'open_clip_custom_text');
  assert.equal((model.meta.architecture.vision as any).tower, 'open_clip');
  const img = await model.embedPixels(Float32Array.from(ref.pixel_values), ref.pixel_values_shape[0]);
  const e1 = maxRelError(img.embeddings, ref.native_vision.image_features, E);
  const e2 = maxRelError((await model.embedTexts(ref.texts)).embeddings, ref.native_vision.text_features, E);
  assert.ok(e1 < 1e-4 && e2 < 1e-4, `image ${e1}, text ${e2}`);
  await model.release();
});
