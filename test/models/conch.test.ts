// CONCH from its published layout (MahmoodLab/conch: meta.yaml beside pytorch_model.bin; the architecture and the
// byte-level BPE tokenizer from CONCH's package), on a tiny random-weight CONCH that CONCH's own code made and
// scored (test/fixtures/conch/make_model.py): the spec, the tokens, both embeddings of a real image and prompts,
// and `clipmed classify` through local servers in the hub's layout (the weights) and in the place of CONCH's
// repository (the tokenizer file, under its published path) against CONCH's zero-shot probabilities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { CheckpointError, ConfigError, NetworkError } from '../../src/errors.ts';
import { ClipModel } from '../../src/node/clip-model.ts';
import { normalizeRows } from '../../src/models/clip-model-core.ts';
import { CONCH_TOKENIZER_URL, readConchSpec } from '../../src/models/readers/index.ts';
import { compileFromBytes } from '../../src/models/from-bytes.ts';
import { memoryFiles } from '../../src/models/spec.ts';
import { tokenizerFromFiles } from '../../src/models/tokenizers.ts';
import { nodeBackend } from '../../src/node/ort-backend.ts';
import { readCheckpoint } from '../../src/node/checkpoint-files.ts';
import { torchSave } from '../helpers/torch-writer.ts';
import { cliAsync } from '../helpers/cli.ts';
import { startHubServer } from '../helpers/hub-server.ts';
import { DATA, isolateCache, maxRelError, tempDir } from '../helpers/reference.ts';
import { serve } from '../server/serve.ts';

const cache = isolateCache();
const FIXTURE = new URL('../fixtures/conch/', import.meta.url).pathname;
const TOKENIZER = new URL('../fixtures/text/conch-bpe/', import.meta.url).pathname;
const ref = JSON.parse(readFileSync(join(FIXTURE, 'reference.json'), 'utf8')) as {
  image: string; classes: string[]; templates: string[]; prompts: string[]; logit_scale: number;
  image_embeds: number[]; text_embeds: number[][]; probs_single: number[]; probs_ensemble: number[];
};
const libraryIds = new Map((JSON.parse(readFileSync(join(TOKENIZER, 'tokens.json'), 'utf8')).tokens as Array<{ text: string; ids: number[] }>).map((t) => [t.text, t.ids]));
const E = ref.image_embeds.length;
/** What MahmoodLab/conch holds (meta.yaml, pytorch_model.bin), and the tiny model's own architecture. */
const HUB_FILES = ['meta.yaml', 'pytorch_model.bin', 'conch_model_cfg.json'];

/** A plain HTTP server in the place of CONCH's repository: the tokenizer file under its published path. */
async function startTokenizerServer(): Promise<{ endpoint: string; gets: () => number; stop: () => Promise<void> }> {
  const body = readFileSync(join(TOKENIZER, 'tokenizer.json'));
  let gets = 0;
  const server = createServer((req, res) => {
    if (req.url !== new URL(CONCH_TOKENIZER_URL).pathname) return void res.writeHead(404).end();
    if (req.method === 'GET') gets++;
    res.writeHead(200, { 'content-length': String(body.length), 'content-type': 'text/plain', etag: '"conch-tokenizer-test"' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return { endpoint: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`, gets: () => gets, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The published layout in a folder: the hub's two files, the tiny architecture, and CONCH's tokenizer file name. */
function conchFolder(edit: (dir: string) => void = () => {}): string {
  const dir = tempDir('clipmed-conch-');
  for (const f of ['meta.yaml', 'pytorch_model.bin', 'conch_model_cfg.json']) copyFileSync(join(FIXTURE, f), join(dir, f));
  copyFileSync(join(TOKENIZER, 'tokenizer.json'), join(dir, 'conch_byte_level_bpe_uncased.json'));
  edit(dir);
  return dir;
}

function maxAbs(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
}

test('CONCH folder: spec, tokens, and text and image embeddings of a real image agree with CONCH', async (t) => {
  const model = await ClipModel.load(conchFolder(), { threads: 1 });
  const spec = model.meta.spec!;
  assert.deepEqual([spec.format, spec.family, spec.vision.kind, spec.text.kind, spec.tokenizer.tokenizer.kind], ['conch', 'conch', 'conch-vision', 'conch-text', 'byte-level-bpe']);
  assert.deepEqual(spec.preprocess, { size: 448, mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711], interpolation: 'bicubic', resizeMode: 'shortest' });
  assert.ok(spec.scoring.kind === 'softmax' && Math.abs(spec.scoring.logitScale - ref.logit_scale) < 1e-4);
  assert.equal(model.meta.text.contextLength, 127);
  assert.deepEqual(model.meta.patchTokens, { grid: 28, width: 16 });
  // CONCH's 128 ids less the placeholder pad encode_text drops
  const ids = model.tokenize(ref.prompts);
  ref.prompts.forEach((p, r) => assert.deepEqual([...ids.subarray(r * 127, (r + 1) * 127), 0], libraryIds.get(p), p));
  const text = await model.embedTexts(ref.prompts);
  const textErr = maxRelError(text.embeddings, ref.text_embeds.flat(), E);
  assert.ok(textErr < 1e-4, `text ${textErr}`);
  const image = await model.embedImageFiles([join(DATA, ref.image)], { normalize: true });
  const imageErr = maxRelError(image.embeddings, ref.image_embeds, E);
  assert.ok(imageErr < 1e-4, `image ${imageErr}`);
  t.diagnostic(`relative error: text ${textErr.toExponential(2)}, image ${imageErr.toExponential(2)}`);
  await model.release();
});

test('CONCH folder: weights saved as {state_dict} with DataParallel\'s module. prefix (CONCH\'s read_state_dict unwraps both) give the same model', async () => {
  const sd = await readCheckpoint(join(FIXTURE, 'pytorch_model.bin'));
  const wrapped = torchSave(new Map([...sd].map(([k, t]) => [`module.${k}`, t])), { wrap: 'state_dict' });
  const model = await ClipModel.load(conchFolder((d) => writeFileSync(join(d, 'pytorch_model.bin'), wrapped)), { threads: 1 });
  assert.equal(model.meta.spec!.vision.prefix, 'module.visual.');
  const text = await model.embedTexts(ref.prompts.slice(0, 2));
  assert.ok(maxRelError(text.embeddings, ref.text_embeds.slice(0, 2).flat(), E) < 1e-4);
  await model.release();
});

test('CONCH without an architecture of its own is conch_ViT-B-16: 448 px, patch 16, ViT-B trunk, 8-head poolers, 127 tokens of 32007', () => {
  const one = (shape: number[]) => ({ dtype: 'float32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  const sd = new Map([['visual.trunk.patch_embed.proj.weight', one([768, 3, 16, 16])], ['visual.attn_pool_contrast.query', one([1, 512])], ['text.cls_emb', one([768])], ['logit_scale', one([])]]);
  const spec = readConchSpec(memoryFiles('MahmoodLab/conch', { 'meta.yaml': new Uint8Array() }), sd as never, 'pytorch_model.bin');
  assert.deepEqual(spec.vision.config, { imageSize: 448, patchSize: 16, width: 768, layers: 12, heads: 12, mlpWidth: 3072, embedDim: 512, captionDim: 768, captionQueries: 256, poolerHeads: 8 });
  assert.deepEqual(spec.text.config, { contextLength: 128, vocabSize: 32007, width: 768, heads: 12, layers: 12, embedDim: 512, padId: 0 });
  assert.deepEqual([spec.tokenizer.contextLength, spec.patchTokens.grid, spec.scoring.logitScale], [127, 28, 1]);
  assert.deepEqual(spec.tokenizer.tokenizer, { kind: 'byte-level-bpe', file: 'conch_byte_level_bpe_uncased.json', padToken: '<pad>', vocabSize: 32007 });
});

test('CONCH from its files as bytes (the browser\'s path): the same spec, text graph and tokens', async () => {
  const files: Record<string, Uint8Array> = {};
  for (const f of ['meta.yaml', 'conch_model_cfg.json']) files[f] = new Uint8Array(readFileSync(join(FIXTURE, f)));
  files['conch_byte_level_bpe_uncased.json'] = new Uint8Array(readFileSync(join(TOKENIZER, 'tokenizer.json')));
  const sd = await readCheckpoint(join(FIXTURE, 'pytorch_model.bin'));
  const { spec, text } = compileFromBytes({ files, sd, weights: 'pytorch_model.bin', name: 'conch' });
  assert.deepEqual([spec.format, spec.vision.kind, spec.tokenizer.contextLength], ['conch', 'conch-vision', 127]);
  const tok = await tokenizerFromFiles(spec.tokenizer, memoryFiles('conch', files));
  const prompts = ref.prompts.slice(0, 3);
  const ids = tok.tokenize(prompts, 127);
  const session = await nodeBackend.create(text, { threads: 1 });
  const out = await session.run({ input_ids: { data: BigInt64Array.from(ids, BigInt), dims: [prompts.length, 127] } });
  await session.release();
  assert.ok(maxRelError(out.text_embeds!.data, ref.text_embeds.slice(0, 3).flat(), E) < 1e-4);
});

test('CONCH from the hub (hf-hub: and the registered name, a local server in the hub layout): classify gives CONCH\'s zero-shot probabilities', async (t) => {
  const hub = await startHubServer({ repo: 'MahmoodLab/conch', source: conchFolder(), files: HUB_FILES });
  const release = await startTokenizerServer();
  const home = tempDir('clipmed-hf-');
  try {
    const env = { HF_ENDPOINT: hub.endpoint, CLIPMED_RELEASE_ENDPOINT: release.endpoint, HF_HOME: home, CLIPMED_CACHE: join(home, 'clipmed'), HF_TOKEN: '' };
    const classify = async (model: string, templates: string[]) => {
      const r = await cliAsync(env, 'classify', '--model', model, '--labels', ref.classes.join(','), ...templates.flatMap((t) => ['-T', t]), join(DATA, ref.image), '--json');
      assert.equal(r.code, 0, r.stderr);
      const scores = JSON.parse(r.stdout).results[0].scores as Record<string, number>;
      return ref.classes.map((c) => scores[c]!);
    };
    const single = await classify(`hf-hub:${hub.repo}`, ref.templates.slice(0, 1));
    assert.ok(maxAbs(single, ref.probs_single) < 1e-4, `single template: ${single} vs ${ref.probs_single}`);
    for (const f of ['meta.yaml', 'pytorch_model.bin']) assert.ok(hub.count({ file: f }) >= 1, `${f} was fetched`);
    const ensemble = await classify('conch', ref.templates);
    assert.ok(maxAbs(ensemble, ref.probs_ensemble) < 1e-4, `template ensemble: ${ensemble} vs ${ref.probs_ensemble}`);
    assert.equal(hub.count({ on: 'cdn', file: 'pytorch_model.bin' }), 1, 'downloaded once');
    assert.equal(release.gets(), 1, 'the tokenizer file downloaded once');
    t.diagnostic(`max |p - p_CONCH|: single ${maxAbs(single, ref.probs_single).toExponential(2)}, ensemble ${maxAbs(ensemble, ref.probs_ensemble).toExponential(2)}`);
  } finally {
    await hub.stop();
    await release.stop();
  }
});

test('clipmed serve gives a CONCH folder\'s published tokenizer file to the browser app', async () => {
  const release = await startTokenizerServer();
  const dir = conchFolder((d) => unlinkSync(join(d, 'conch_byte_level_bpe_uncased.json')));
  const home = tempDir('clipmed-serve-');
  const server = await serve(['--model', dir], { CLIPMED_RELEASE_ENDPOINT: release.endpoint, HF_HOME: home, CLIPMED_CACHE: join(home, 'clipmed') });
  try {
    const models = await (await fetch(`${server.url}/v1/models`)).json();
    assert.equal(models.models[0].tokenizerFile, 'conch_byte_level_bpe_uncased.json');
    const r = await fetch(`${server.url}/v1/models/${models.models[0].name}/tokenizer/conch_byte_level_bpe_uncased.json`);
    assert.equal(r.status, 200);
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), new Uint8Array(readFileSync(join(TOKENIZER, 'tokenizer.json'))));
  } finally {
    await server.stop();
    await release.stop();
  }
});

test('CONCH folder without its tokenizer, with a state dict of another model, or a broken architecture file: errors naming the file', async () => {
  // offline, with no copy in the cache, the published tokenizer cannot be had
  const noTokenizer = conchFolder((d) => unlinkSync(join(d, 'conch_byte_level_bpe_uncased.json')));
  process.env.HF_HUB_OFFLINE = '1';
  try {
    await assert.rejects(ClipModel.load(noTokenizer, { threads: 1 }), (e: unknown) => e instanceof NetworkError && /conch_byte_level_bpe_uncased\.json/.test((e as Error).message));
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
  const otherTokenizer = conchFolder((d) => {
    const j = JSON.parse(readFileSync(join(d, 'conch_byte_level_bpe_uncased.json'), 'utf8'));
    j.model.vocab['\u0120zzz'] = Object.keys(j.model.vocab).length;
    writeFileSync(join(d, 'conch_byte_level_bpe_uncased.json'), JSON.stringify(j));
  });
  // the tokenizer is made on first use (image-only work never reads it): its error comes with the first texts
  const wrong = await ClipModel.load(otherTokenizer, { threads: 1 });
  await assert.rejects(wrong.embedTexts(['lung']), (e: unknown) => e instanceof ConfigError && /578 ids, the text tower's vocabulary 577/.test((e as Error).message) && /conch_byte_level_bpe_uncased\.json/.test((e as Error).message));
  assert.throws(() => wrong.tokenize(['lung']), /578 ids, the text tower's vocabulary 577/);
  await wrong.release();
  const other = conchFolder((d) => copyFileSync(join(FIXTURE, '..', 'towers', 'cxr-bert', 'pytorch_model.bin'), join(d, 'pytorch_model.bin')));
  await assert.rejects(ClipModel.load(other, { threads: 1 }), (e: unknown) => e instanceof CheckpointError && /not a CONCH CoCa state dict/.test((e as Error).message) && /pytorch_model\.bin/.test((e as Error).message));
  const badCfg = conchFolder((d) => writeFileSync(join(d, 'conch_model_cfg.json'), '{"embed_dim": 16,'));
  await assert.rejects(ClipModel.load(badCfg, { threads: 1 }), (e: unknown) => e instanceof ConfigError && /conch_model_cfg\.json/.test((e as Error).message));
  // without its own architecture the folder is read as conch_ViT-B-16, whose shapes the tiny weights do not have
  const published = conchFolder((d) => unlinkSync(join(d, 'conch_model_cfg.json')));
  await assert.rejects(ClipModel.load(published, { threads: 1 }), (e: unknown) => e instanceof Error && /visual\.trunk\./.test((e as Error).message));
  void cache;
});

test('CONCH: normalised text embeddings are what the zero-shot classifier compares', () => {
  const rows = Float32Array.from(ref.text_embeds.flat());
  normalizeRows(rows, E);
  for (let r = 0; r < ref.prompts.length; r++) assert.ok(Math.abs(Math.hypot(...rows.subarray(r * E, (r + 1) * E)) - 1) < 1e-6);
});
