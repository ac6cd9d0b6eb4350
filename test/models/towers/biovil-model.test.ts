// A BioViL hub folder (microsoft/BiomedVLP-CXR-BERT-specialized layout: CXR-BERT's config.json, pytorch_model.bin,
// vocab.txt, tokenizer_config.json, and hi-ml's image weights biovil_image_resnet50_proj_size_128.pt beside them)
// loads as one model: both weights files merged, the image tower from hi-ml's ImageModel keys, the text tower
// CXR-BERT, tokens from the folder's vocabulary. The tiny weights are the fixtures made by hi-ml's own code
// (test/fixtures/towers/torchvision-resnet, test/fixtures/towers/cxr-bert).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.ts';
import { ClipModel } from '../../../src/node/clip-model.ts';
import { cli, cliAsync } from '../../helpers/cli.ts';
import { startHubServer } from '../../helpers/hub-server.ts';
import { DATA, isolateCache, maxRelError, tempDir } from '../../helpers/reference.ts';
import { loadTowerFixture, TOWER_FIXTURES } from './tower-helpers.ts';

const cache = isolateCache();
const image = loadTowerFixture('torchvision-resnet').ref;
const text = loadTowerFixture('cxr-bert').ref;

// WordPiece vocabulary whose ids are those of the cxr-bert fixture's rows: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3
const WORDS: Record<number, string> = { 11: 'no', 12: 'acute', 13: 'pneumonia', 21: 'the', 22: 'heart', 23: 'is', 24: 'mildly', 25: 'enlarged', 26: 'today', 31: 'effusion' };
const TEXTS = ['No acute pneumonia', 'The heart is mildly enlarged today', 'Effusion'];

function biovilFolder(edit: (dir: string) => void = () => {}): string {
  const dir = join(tempDir('clipmed-biovil-'), 'BiomedVLP-CXR-BERT-specialized');
  mkdirSync(dir);
  for (const f of ['config.json', 'pytorch_model.bin']) copyFileSync(join(TOWER_FIXTURES, 'cxr-bert', f), join(dir, f));
  copyFileSync(join(TOWER_FIXTURES, 'torchvision-resnet', 'image_model.pt'), join(dir, 'biovil_image_resnet50_proj_size_128.pt'));
  const vocab = Array.from({ length: 60 }, (_, i) => ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'][i] ?? WORDS[i] ?? `[unused${i}]`);
  writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, tokenizer_class: 'CXRBertTokenizer' }));
  edit(dir);
  return dir;
}

/** The 480 px image of the fixture: pixel i is ((i * 7919) % 2001 - 1000) / 1000. */
function pixels480(): Float32Array {
  return Float32Array.from({ length: 3 * 480 * 480 }, (_, i) => (((i * 7919) % 2001) - 1000) / 1000);
}

test('BioViL folder: both weights files load as one model; tokens, text and image embeddings agree with hi-ml', async () => {
  const model = await ClipModel.load(biovilFolder(), { threads: 1 });
  const spec = model.meta.spec!;
  assert.deepEqual([spec.family, spec.vision.kind, spec.text.kind], ['biovil', 'torchvision-resnet', 'cxr-bert']);
  assert.deepEqual(spec.files.weights.map((f) => f.name), ['pytorch_model.bin', 'biovil_image_resnet50_proj_size_128.pt']);
  assert.equal(model.embedDim, 16);
  assert.deepEqual(model.meta.patchTokens, { grid: 15, width: 512 });
  // token ids as the fixture's rows (padded to the context length here)
  const ids = model.tokenize(TEXTS);
  const C = model.meta.text.contextLength;
  (text.input_ids as number[][]).forEach((row, r) => assert.deepEqual(Array.from(ids.subarray(r * C, r * C + row.length)), row, TEXTS[r]));
  const t = await model.embedTexts(TEXTS);
  assert.ok(maxRelError(t.embeddings, text.text_embeds, 16) < 1e-4, `text ${maxRelError(t.embeddings, text.text_embeds, 16)}`);
  const img = await model.embedPixels(pixels480(), 1);
  assert.ok(maxRelError(img.embeddings, image.image_embeds_480, 16) < 1e-4, `image ${maxRelError(img.embeddings, image.image_embeds_480, 16)}`);
  await model.release();
});

test('BioViL folder: clipmed classify runs with the BioViL protocol; an unreadable image weights file is an error naming it', () => {
  const dir = biovilFolder();
  const xray = join(DATA, 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');
  const r = cli({ CLIPMED_CACHE: cache })('classify', '--model', dir, '--protocol', 'biovil', '--labels', 'pneumonia,effusion', '-T', 'no acute {}', xray, '--json');
  assert.equal(r.code, 0, r.stderr);
  const scores = JSON.parse(r.stdout).results[0].scores;
  assert.ok(Math.abs(scores.pneumonia + scores.effusion - 1) < 1e-6);
  const empty = biovilFolder((d) => writeFileSync(join(d, 'biovil_image_resnet50_proj_size_128.pt'), ''));
  const bad = cli({ CLIPMED_CACHE: cache })('embed', '--model', empty, '--text', 'effusion');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /biovil_image_resnet50_proj_size_128\.pt/);
});

test('BioViL folder without its image weights, or with both BioViL and BioViL-T files, is refused naming them', async () => {
  const noImage = biovilFolder((d) => unlinkSync(join(d, 'biovil_image_resnet50_proj_size_128.pt')));
  await assert.rejects(ClipModel.load(noImage, { threads: 1 }), (e: unknown) => e instanceof ConfigError && /biovil_image_resnet50_proj_size_128\.pt/.test((e as Error).message));
  const both = biovilFolder((d) => copyFileSync(join(d, 'biovil_image_resnet50_proj_size_128.pt'), join(d, 'biovil_t_image_model_proj_size_128.pt')));
  await assert.rejects(ClipModel.load(both, { threads: 1 }), (e: unknown) => e instanceof ConfigError && /found biovil_image/.test((e as Error).message));
});

test('BioViL from the hub (hf-hub:, a local server in the hub layout): the spec fetches both weights files and the vocabulary', async () => {
  const dir = biovilFolder();
  const files = ['config.json', 'pytorch_model.bin', 'biovil_image_resnet50_proj_size_128.pt', 'vocab.txt', 'tokenizer_config.json'];
  const hub = await startHubServer({ repo: 'microsoft/BiomedVLP-CXR-BERT-specialized', source: dir, files });
  const home = tempDir('clipmed-hf-');
  try {
    const env = { HF_ENDPOINT: hub.endpoint, HF_HOME: home, CLIPMED_CACHE: join(home, 'clipmed'), HF_TOKEN: '' };
    const r = await cliAsync(env, 'embed', '--model', `hf-hub:${hub.repo}`, ...TEXTS.flatMap((t) => ['--text', t]), '--json');
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout).texts.flatMap((t: { embedding: number[] }) => t.embedding);
    assert.ok(maxRelError(got, text.text_embeds, 16) < 1e-4, 'text embeddings from the hub download');
    for (const f of ['pytorch_model.bin', 'biovil_image_resnet50_proj_size_128.pt']) assert.equal(hub.count({ on: 'cdn', file: f }), 1, f);
  } finally {
    await hub.stop();
  }
});
