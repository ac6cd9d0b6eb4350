// GLoRIA end to end against GLoRIA's own code (test/fixtures/gloria-model/make_model.py: a tiny random-weight
// GLoRIA saved as the Lightning checkpoint chexpert_resnet50.ckpt; BERT and tokenizer are stand-ins written from
// transformers' source, since transformers cannot be installed): the checkpoint's hyper_parameters read as data,
// the tokenizer (GLoRIA's prompt cleaning + WordPiece), both towers, GLoRIA's global + local similarities, and
// `clipmed classify` on real chest X-rays with the BERT's files fetched from a local hub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointHyperParameters } from '../../src/checkpoint/lightning.ts';
import { ClipModelCore } from '../../src/models/clip-model-core.ts';
import { buildFromSpec, readModelSpec } from '../../src/models/readers/index.ts';
import { memoryFiles } from '../../src/models/spec.ts';
import { loadTokenizer } from '../../src/models/tokenizers.ts';
import { readCheckpoint } from '../../src/node/checkpoint-files.ts';
import { decodeImageFile } from '../../src/node/image-decode.ts';
import { buildClassifier, classifyRasters, scoringForClassifier } from '../../src/pipeline/zero-shot.ts';
import { nodeBackend } from '../../src/node/ort-backend.ts';
import { PROTOCOLS, runProtocol } from '../../src/image/protocol.ts';
import { readNpy } from '../../src/io/npy.ts';
import { pipeline } from '../../src/pipeline/api.ts';
import { standardizeColumns } from '../../src/tasks/local-alignment.ts';
import { classifyZeroShot } from '../../src/tasks/zero-shot.ts';
import { gloriaClean } from '../../src/text/gloria-clean.ts';
import { cliAsync } from '../helpers/cli.ts';
import { startHubServer } from '../helpers/hub-server.ts';

const FIX = new URL('../fixtures/gloria-model/', import.meta.url).pathname;
const DATA = new URL('../../../shared/data/pneumonia-cxr/test/', import.meta.url).pathname;
const CKPT = join(FIX, 'chexpert_resnet50.ckpt');
const BERT_DIR = join(FIX, 'Bio_ClinicalBERT');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref = JSON.parse(readFileSync(join(FIX, 'reference.json'), 'utf8')) as Record<string, any>;
const labels = ref.labels as string[];
const bertFiles = () => memoryFiles(BERT_DIR, { 'vocab.txt': readFileSync(join(BERT_DIR, 'vocab.txt')), 'config.json': readFileSync(join(BERT_DIR, 'config.json')) });

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** GLoRIA's class similarities [images x classes]: per image the best 'both' similarity of the class's prompts. */
function referenceClassSimilarities(): number[] {
  const n = ref.images.length;
  const P = ref.templates.length;
  return Array.from({ length: n }, (_, i) => labels.map((l) => Math.max(...Array.from({ length: P }, (_, p) => ref.similarities[l].both[i * P + p] as number)))).flat();
}

test('gloria: the Lightning checkpoint is read without running its classes; hyper_parameters become the spec', async () => {
  const sd = await readCheckpoint(CKPT);
  const hp = checkpointHyperParameters(sd) as { model: { gloria: Record<string, number>; text: Record<string, unknown> }; data: { text: { word_num: number } } };
  assert.equal(hp.model.gloria.temp1, 4);
  assert.equal(hp.model.gloria.temp2, 5);
  assert.equal(hp.model.text.embedding_dim, 16);
  assert.equal(hp.model.text.bert_type, 'emilyalsentzer/Bio_ClinicalBERT');
  assert.equal(hp.data.text.word_num, ref.word_num);
  const spec = readModelSpec({ format: 'openai', weightsFile: CKPT, sd, tokenizerFiles: bertFiles() });
  assert.equal(spec.family, 'gloria');
  assert.equal(spec.text.kind, 'gloria-text');
  assert.deepEqual(spec.scoring, { kind: 'global-local', logitScale: 1, attentionTemp: 4, wordTemp: 5, wordSlots: 97, wordCount: 'prompt-characters' });
  assert.deepEqual(spec.files.tokenizer.map((f) => `${f.repo}/${f.name}`), ['emilyalsentzer/Bio_ClinicalBERT/vocab.txt', 'emilyalsentzer/Bio_ClinicalBERT/config.json']);
  // every key of the state dict is used or named (optimizer state and callbacks are outside it)
  buildFromSpec(spec, sd, CKPT);
  assert.throws(() => readModelSpec({ format: 'openai', weightsFile: CKPT, sd }), /needs vocab\.txt of emilyalsentzer\/Bio_ClinicalBERT/);
});

test('gloria: prompts are cleaned and tokenized as GLoRIA.process_text does', async () => {
  assert.equal(gloriaClean('A chest X-ray showing pneumonia'), 'a chest x ray showing pneumonia');
  assert.equal(gloriaClean('pneumonia'), ''); // one-token sentences are dropped
  assert.equal(gloriaClean('No evidence of pneumonia. Clear lungs\n2. Café au lait'), 'no evidence of pneumonia clear lungs caf au lait');
  const sd = await readCheckpoint(CKPT);
  const spec = readModelSpec({ format: 'openai', weightsFile: CKPT, sd, tokenizerFiles: bertFiles() });
  const tok = await loadTokenizer(spec.tokenizer, { tokenizerFiles: bertFiles() });
  for (const l of labels) {
    const ids = tok.tokenize(ref.classes[l], spec.tokenizer.contextLength);
    assert.deepEqual([...ids], (ref.input_ids[l] as number[][]).flat(), l);
  }
});

test('gloria: the gloria protocol gives GLoRIA.process_img\'s pixels (cv2 grey, INTER_AREA to 256, padding, crop 224)', async () => {
  const want = readNpy(readFileSync(join(FIX, 'gloria_pixels.npy')), 'gloria_pixels.npy');
  const n = ref.images.length;
  assert.deepEqual(want.shape, [n, 224, 224]);
  for (let i = 0; i < n; i++) {
    const x = runProtocol(await decodeImageFile(join(DATA, ref.images[i])), PROTOCOLS.gloria); // [3, 224, 224]
    let diff = 0;
    for (let j = 0; j < 224 * 224; j++) diff = Math.max(diff, Math.abs(Math.round((x[j]! * 0.5 + 0.5) * 255) - (want.data as Uint8Array)[i * 224 * 224 + j]!));
    assert.equal(diff, 0, `${ref.images[i]}: ${diff} grey levels from GLoRIA's pixels`);
  }
});

test('gloria: embeddings, word slots and global + local similarities agree with GLoRIA to 1e-4 on real X-rays', async () => {
  const sd = await readCheckpoint(CKPT);
  const spec = readModelSpec({ format: 'openai', weightsFile: CKPT, sd, tokenizerFiles: bertFiles() });
  const { vision, text } = buildFromSpec(spec, sd, CKPT);
  const tokenizer = await loadTokenizer(spec.tokenizer, { tokenizerFiles: bertFiles() });
  const model = ClipModelCore.fromGraphs({ spec, vision: vision.bytes, text: text.bytes, tokenizer, backend: nodeBackend, threads: 1, name: 'gloria', protocol: 'gloria' });
  try {
    const t = await model.embedTexts(ref.classes.pneumonia, { wordEmbeds: true });
    const errText = maxAbs(t.embeddings, ref.text_embeds_pneumonia);
    const errWords = maxAbs(t.wordEmbeds!, ref.word_embeds_pneumonia);
    const rasters = await Promise.all((ref.images as string[]).map((p) => decodeImageFile(join(DATA, p))));
    const img = await model.embedRasters(rasters, { patchEmbeds: true });
    const errImage = maxAbs(img.embeddings, ref.image_embeds);
    const classifier = await buildClassifier(model, { labels, templates: ref.templates });
    const r = await classifyRasters(model, rasters, classifier, scoringForClassifier(model, classifier));
    const errSim = maxAbs(r.logits.data, referenceClassSimilarities());
    const errZeroShot = maxAbs(standardizeColumns(r.logits).data, ref.zero_shot);
    console.log(`gloria max abs diff: text ${errText.toExponential(2)}, words ${errWords.toExponential(2)}, image ${errImage.toExponential(2)}, class similarities ${errSim.toExponential(2)}, zero_shot_classification ${errZeroShot.toExponential(2)}`);
    for (const [k, e] of Object.entries({ errText, errWords, errImage, errSim, errZeroShot })) assert.ok(e < 1e-4, `${k}: ${e}`);
    // the pipeline API scores the same way; a classifier with word embeddings refuses global embeddings alone
    const viaPipeline = await (await pipeline('zero-shot-image-classification', model))(rasters, labels, { templates: ref.templates });
    const first = (viaPipeline as Array<Array<{ label: string; score: number }>>)[0]!;
    for (const { label, score } of first) assert.ok(Math.abs(score - r.probs.data[labels.indexOf(label)]!) < 1e-6, label);
    assert.throws(() => classifyZeroShot(r.logits, classifier, { kind: 'softmax', logitScale: 1 }), /needs the images' region embeddings/);
    // the probabilities are the softmax of the class similarities
    const row = [...r.logits.data.slice(0, labels.length)].map(Math.exp);
    assert.ok(Math.abs(r.probs.data[0]! - row[0]! / (row[0]! + row[1]!)) < 1e-6);
  } finally {
    await model.release();
  }
});

test('gloria: clipmed classify runs zero-shot from the published checkpoint name, the BERT files from the hub', async () => {
  const hub = await startHubServer({ repo: 'emilyalsentzer/Bio_ClinicalBERT', source: BERT_DIR, files: ['vocab.txt', 'config.json'] });
  try {
    const home = mkdtempSync(join(tmpdir(), 'clipmed-gloria-'));
    const env = { HF_ENDPOINT: hub.endpoint, HF_HOME: home, CLIPMED_CACHE: join(home, 'clipmed'), HF_TOKEN: '' };
    const images = (ref.images as string[]).map((p) => join(DATA, p));
    const r = await cliAsync(env, 'classify', '--model', CKPT, '--labels', labels.join(','), ...ref.templates.flatMap((t: string) => ['-T', t]), ...images, '--json', '--threads', '1');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { results: Array<{ input: string; scores: Record<string, number> }> };
    const sims = referenceClassSimilarities();
    const expected = out.results.flatMap((_, i) => {
      const e = labels.map((_, c) => Math.exp(sims[i * labels.length + c]!));
      return e.map((v) => v / e.reduce((a, b) => a + b, 0));
    });
    const got = out.results.flatMap((x) => labels.map((l) => x.scores[l]!));
    assert.deepEqual(out.results.map((x) => x.input), images);
    assert.ok(maxAbs(got, expected) < 1e-4, `probabilities: ${maxAbs(got, expected)}`);
    const info = await cliAsync(env, 'info', '--model', CKPT);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /gloria family/);
    assert.match(info.stdout, /vision {7}torchvision-resnet 224px \(resized to 299 in the graph\)/);
    assert.match(info.stdout, /scoring global \+ local \(GLoRIA: attention temperature 4, word temperature 5\)/);
    // parameters split by the graph that holds each tensor: the ResNet's are vision, whatever its keys are called
    assert.match(info.stdout, /parameters +[\d.]+M \(vision (?!0\.00M)[\d.]+M, text (?!0\.00M)[\d.]+M\)/);
  } finally {
    await hub.stop();
  }
});
