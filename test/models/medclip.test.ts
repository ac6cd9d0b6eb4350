// MedCLIP from its published layout (the release zip with a bare pytorch_model.bin, the Swin and Bio_ClinicalBERT
// configs and vocabulary from their hub repositories) against MedCLIP's own zero-shot (PromptClassifier with
// ensemble=True, process_class_prompts, MedCLIPFeatureExtractor) on a tiny random-weight model that MedCLIP's code
// built and saved (test/fixtures/medclip/make_medclip.py; transformers' parts are stand-ins written from its
// source, so the Swin, BERT and tokenizer are weaker evidence than the MedCLIP code around them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StateDict } from '../../src/checkpoint/types.ts';
import { ConfigError } from '../../src/errors.ts';
import { decodeImageFile } from '../../src/node/image-decode.ts';
import { buildFromSpec, readMedclipSpec } from '../../src/models/readers/index.ts';
import { memoryFiles } from '../../src/models/spec.ts';
import { ClipModelCore } from '../../src/models/clip-model-core.ts';
import { tokenizerFromFiles } from '../../src/models/tokenizers.ts';
import { inferResNetTrunk, type TorchvisionResNetConfig } from '../../src/models/towers/index.ts';
import { nodeBackend } from '../../src/node/ort-backend.ts';
import { readCheckpoint } from '../../src/node/checkpoint-files.ts';
import { ClipModel } from '../../src/node/clip-model.ts';
import { medclipVisionFromName } from '../../src/node/medclip-source.ts';
import { unzipMember } from '../../src/node/release.ts';
import { buildClassifier, classifyRasters, scoringForClassifier } from '../../src/pipeline/zero-shot.ts';
import { fromFlat } from '../../src/tasks/matrix.ts';
import { getTemplateSet } from '../../src/tasks/templates.ts';
import { buildZeroShotClassifier, classifyZeroShot } from '../../src/tasks/zero-shot.ts';
import { useHubEnv } from '../helpers/hub-server.ts';
import { loadMedclipReference, medclipImages, medclipResnetStateDict, MEDCLIP_FIXTURE, MEDCLIP_ZIP, startMedclipServers } from '../helpers/medclip-release.ts';
import { loadTowerFixture, runImageTower } from './towers/tower-helpers.ts';

const ref = loadMedclipReference();
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** The release's pytorch_model.bin, unzipped with clipmed's own unzip. */
async function releaseStateDict(): Promise<{ sd: StateDict; file: string }> {
  const file = join(mkdtempSync(join(tmpdir(), 'clipmed-medclip-')), 'pytorch_model.bin');
  await unzipMember(MEDCLIP_ZIP, 'pytorch_model.bin', file);
  return { sd: await readCheckpoint(file), file };
}

const hubFiles = (repo: 'swin' | 'bert') => {
  const dir = join(MEDCLIP_FIXTURE, 'hub', repo);
  const names = repo === 'swin' ? ['config.json'] : ['config.json', 'vocab.txt'];
  return memoryFiles(dir, Object.fromEntries(names.map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))])));
};

test("a local MedCLIP source's image tower by MedCLIP's own names for its zips and folders", () => {
  assert.deepEqual(
    ['/d/medclip-pretrained.zip', '/d/medclip-vit-pretrained.zip', './pretrained/medclip-resnet', './pretrained/medclip-vit', '/d/my-ResNet-copy.zip', '/d/weights.zip'].map(medclipVisionFromName),
    ['resnet', 'swin', 'resnet', 'swin', 'resnet', 'swin'],
  );
});

test("MedCLIP's prompts are generate_chexpert_class_prompts(n=None), every combination in MedCLIP's order", () => {
  assert.deepEqual(getTemplateSet('medclip').classPrompts, ref.prompts);
  assert.deepEqual(Object.fromEntries(Object.entries(ref.prompts).map(([k, v]) => [k, v.length])), { Atelectasis: 210, Cardiomegaly: 15, Consolidation: 192, Edema: 18, 'Pleural Effusion': 54 });
});

test('MedCLIP-ViT from its release zip and hub configs: tokens, image embeddings and PromptClassifier logits as MedCLIP computes them', async () => {
  const servers = await startMedclipServers();
  const env = useHubEnv(servers.hub.endpoint);
  process.env.CLIPMED_CACHE = join(env.home, 'clipmed');
  try {
    const model = await ClipModel.load(MEDCLIP_ZIP);
    assert.equal(model.pretrained?.title, 'MedCLIP-ViT (chest X-ray, Swin-T + Bio_ClinicalBERT)');
    assert.equal(model.meta.spec?.vision.kind, 'hf-swin');
    assert.equal(model.meta.spec?.text.kind, 'medclip-text');
    assert.ok(Math.abs(model.meta.score.logitScale - ref.logit_scale) < 1e-5);

    // process_class_prompts: a class at a time, padded to its longest prompt ([CLS] ... [SEP] [PAD]...)
    const C = model.meta.text.contextLength;
    for (const cls of ref.class_names) {
      const want = ref.input_ids[cls]!;
      const ids = model.tokenize(ref.prompts[cls]!);
      const got = want.map((row, r) => Array.from(ids.subarray(r * C, r * C + row.length)));
      assert.deepEqual(got, want, cls);
      for (let r = 0; r < want.length; r++) assert.ok(ids.subarray(r * C + want[0]!.length, (r + 1) * C).every((v) => v === 0), `${cls} row ${r} pads past its class's longest`);
    }

    const rasters = await Promise.all(medclipImages(ref).map((p) => decodeImageFile(p)));
    const pixels = model.preprocessRasters(rasters);
    assert.ok(Math.abs(pixels.reduce((a, b) => a + b, 0) / pixels.length - ref.pixel_mean) < 1e-5);
    const img = await model.embedRasters(rasters, { normalize: true });
    const imgErr = maxAbs(img.embeddings, ref.img_embeds);
    assert.ok(imgErr < 1e-4, `image embeddings: max abs difference ${imgErr}`);

    const classifier = await buildClassifier(model, { labels: ref.class_names });
    const result = await classifyRasters(model, rasters, classifier, scoringForClassifier(model, classifier));
    const logitErr = maxAbs(result.logits.data, ref.logits);
    const probErr = maxAbs(result.probs.data, ref.probs);
    assert.ok(logitErr < 1e-4, `PromptClassifier logits: max abs difference ${logitErr}`);
    assert.ok(probErr < 1e-4, `probabilities: max abs difference ${probErr}`);

    // both rules are load-bearing: open_clip's renormalised mean, or one padding for all classes, gives other logits
    const perClass: Float32Array[] = [];
    for (const cls of ref.class_names) perClass.push((await model.embedTexts(ref.prompts[cls]!, { normalize: true })).embeddings);
    const renormalised = classifyZeroShot(fromFlat(img.embeddings, img.dim), buildZeroShotClassifier(ref.class_names, perClass.map((e) => fromFlat(e, img.dim))), { kind: 'softmax', logitScale: ref.logit_scale });
    assert.ok(maxAbs(renormalised.logits.data, ref.logits) > 1e-2, 'the renormalised class mean differs from the mean of the logits');
    const all = Object.values(ref.prompts).flat();
    const together = await model.embedTexts(all, { normalize: true });
    const alone = await model.embedTexts(ref.prompts.Edema!, { normalize: true }); // short prompts, padded far less alone
    const offset = all.indexOf(ref.prompts.Edema![0]!);
    assert.ok(maxAbs(together.embeddings.subarray(offset * img.dim, (offset + 1) * img.dim), alone.embeddings.subarray(0, img.dim)) > 1e-3, 'the padding changes the embedding');
    await model.release();

    // the folder the zip unzips to (MedCLIP's ./pretrained/medclip-vit) is the same model
    const folder = join(mkdtempSync(join(tmpdir(), 'clipmed-medclip-')), 'medclip-vit');
    mkdirSync(folder);
    await unzipMember(MEDCLIP_ZIP, 'pytorch_model.bin', join(folder, 'pytorch_model.bin'));
    const fromFolder = await ClipModel.load(folder);
    assert.equal(fromFolder.pretrained?.title, model.pretrained?.title);
    const again = await classifyRasters(fromFolder, rasters, await buildClassifier(fromFolder, { labels: ref.class_names }), scoringForClassifier(fromFolder, classifier));
    assert.ok(maxAbs(again.logits.data, ref.logits) < 1e-4);
    await fromFolder.release();
  } finally {
    await servers.stop();
    env.restore();
    delete process.env.CLIPMED_CACHE;
  }
});

test("the reader: logit_scale is clamped to [0, 4.6052] as compute_logits does; the image tower is told by the keys", async () => {
  const { sd, file } = await releaseStateDict();
  const spec = (ls: number) => {
    const copy = new Map(sd);
    copy.set('logit_scale', { dtype: 'float32', shape: [], data: Float32Array.of(ls) });
    return readMedclipSpec({ textFiles: hubFiles('bert'), visionFiles: hubFiles('swin'), weightsFile: file, sd: copy });
  };
  assert.ok(Math.abs(spec(5).scoring.logitScale - Math.exp(4.6052)) < 1e-9);
  assert.equal(spec(-1).scoring.logitScale, 1);
  assert.ok(Math.abs(spec(2).scoring.logitScale - Math.exp(2)) < 1e-9);
  const s = spec(2);
  assert.deepEqual([s.vision.kind, s.vision.prefix, s.text.prefix, s.tokenizer.contextLength, s.tokenizer.padding, s.tokenizer.tokenizer], [
    'hf-swin', 'vision_model.', 'text_model.', 77, 'longest', { kind: 'wordpiece', vocabFile: 'vocab.txt', lowercase: true, repo: 'emilyalsentzer/Bio_ClinicalBERT', clean: 'bert' },
  ]);
  // transformers' BertTokenizer keeps an HTML entity as it is ('&', 'amp', ';'), where open_clip's cleaning unescapes it
  const tok = await tokenizerFromFiles(s.tokenizer, hubFiles('bert'));
  const vocab = readFileSync(join(MEDCLIP_FIXTURE, 'hub/bert/vocab.txt'), 'utf8').split('\n');
  const id = (t: string) => vocab.indexOf(t);
  assert.deepEqual(Array.from(tok.tokenize(['Heart SIZE &amp; lung'], 10)), [id('[CLS]'), id('heart'), id('size'), id('[UNK]'), id('[UNK]'), id('[UNK]'), id('lung'), id('[SEP]'), 0, 0]);
  const noVision = new Map([...sd].filter(([k]) => !k.startsWith('vision_model.model.embeddings.')));
  assert.throws(() => readMedclipSpec({ textFiles: hubFiles('bert'), visionFiles: hubFiles('swin'), weightsFile: file, sd: noVision }), (e: unknown) => e instanceof ConfigError && /not a MedCLIP image tower/.test(e.message) && e.message.includes(file));
  assert.throws(() => readMedclipSpec({ textFiles: hubFiles('bert'), weightsFile: file, sd }), (e: unknown) => e instanceof ConfigError && /swin-tiny-patch4-window7-224/.test(e.message));
  const openClip = new Map([...sd].filter(([k]) => !k.startsWith('text_model.')));
  assert.throws(() => readMedclipSpec({ textFiles: hubFiles('bert'), visionFiles: hubFiles('swin'), weightsFile: file, sd: openClip }), /not a MedCLIP state dict/);
});

test("the reader's ResNet branch (MedCLIP-ResNet's keys: vision_model.model.* with fc as the projection) builds torchvision's ResNet.forward", async () => {
  // a torchvision ResNet made by torchvision's own code (the tower fixture) under MedCLIP-ResNet's keys, with this
  // release's text tower; its fc (4 outputs, with a bias) stands in for MedCLIP's Linear(2048, 512, bias=False)
  const { dir, ref: tv } = loadTowerFixture('torchvision-resnet');
  const trunk = await readCheckpoint(join(dir, 'image_model.pt'));
  const { sd: release, file } = await releaseStateDict();
  const sd: StateDict = new Map([...release].filter(([k]) => !k.startsWith('vision_model.')));
  for (const [k, t] of trunk) if (k.startsWith('encoder.encoder.')) sd.set(`vision_model.model.${k.slice('encoder.encoder.'.length)}`, t);
  const textFiles = hubFiles('bert');
  assert.throws(() => readMedclipSpec({ textFiles, weightsFile: file, sd }), /image projection gives 4 dimensions, the text projection 12/);
  const proj = release.get('text_model.projection_head.weight')!;
  sd.set('text_model.projection_head.weight', { ...proj, shape: [4, proj.shape[1]!], data: (proj.data as Float32Array).slice(0, 4 * proj.shape[1]!) });
  const spec = readMedclipSpec({ textFiles, weightsFile: file, sd });
  assert.equal(spec.vision.kind, 'torchvision-resnet');
  const cfg = spec.vision.config as unknown as TorchvisionResNetConfig;
  assert.deepEqual(cfg.head, { kind: 'linear', key: 'vision_model.model.fc', embedDim: 4, bias: true });
  assert.deepEqual([cfg.layers, cfg.widthPerGroup, cfg.expansion], [tv.config.layers, tv.config.width_per_group, tv.config.expansion]);
  assert.deepEqual(inferResNetTrunk(sd, file, 'vision_model.model.').layers, tv.config.layers);
  // the fixture's images are 96 px; MedCLIP's are 224 (the tower is the same at any size)
  const { vision } = buildFromSpec({ ...spec, vision: { ...spec.vision, config: { ...spec.vision.config, imageSize: tv.config.image_size } } }, sd, file);
  const out = await runImageTower(vision, tv);
  const err = maxAbs(out.image_embeds!.data, tv.fc_out);
  assert.ok(err < 1e-4, `fc(avgpool(trunk)): max abs difference ${err}`);
});

test("MedCLIP-ResNet: MedCLIPVisionModel's state dict (torchvision trunk, fc as the projection) zero-shot as MedCLIP's PromptClassifier", async () => {
  // MedCLIPModel(vision_cls=MedCLIPVisionModel).state_dict() as make_medclip.py's MedCLIP-ResNet holds it: the tiny
  // torchvision trunk of the tower fixture, its fc (resnet_fc.pt), and the ViT release's text tower and logit_scale
  const { file } = await releaseStateDict();
  const sd = await medclipResnetStateDict();
  const textFiles = hubFiles('bert');
  const spec = readMedclipSpec({ textFiles, weightsFile: file, sd });
  assert.deepEqual((spec.vision.config as unknown as TorchvisionResNetConfig).head, { kind: 'linear', key: 'vision_model.model.fc', embedDim: 12, bias: false });
  const { vision, text } = buildFromSpec(spec, sd, file);
  const model = ClipModelCore.fromGraphs({ spec, vision: vision.bytes, text: text.bytes, tokenizer: await tokenizerFromFiles(spec.tokenizer, textFiles), backend: nodeBackend, protocol: 'medclip', name: 'medclip-resnet' });
  try {
    const rasters = await Promise.all(medclipImages(ref).map((p) => decodeImageFile(p)));
    const img = await model.embedRasters(rasters, { normalize: true });
    const imgErr = maxAbs(img.embeddings, ref.resnet.img_embeds);
    assert.ok(imgErr < 1e-4, `image embeddings: max abs difference ${imgErr}`);
    const classifier = await buildClassifier(model, { labels: ref.class_names, templateSet: 'medclip' });
    const result = await classifyRasters(model, rasters, classifier, scoringForClassifier(model, classifier));
    const logitErr = maxAbs(result.logits.data, ref.resnet.logits);
    const probErr = maxAbs(result.probs.data, ref.resnet.probs);
    assert.ok(logitErr < 1e-4, `PromptClassifier logits: max abs difference ${logitErr}`);
    assert.ok(probErr < 1e-4, `probabilities: max abs difference ${probErr}`);
  } finally {
    await model.release();
  }
});
