// `clipmed classify --model medclip-vit` end to end as a user runs it: the release zip from a mirror of its published
// URL (CLIPMED_RELEASE_ENDPOINT), the Swin and Bio_ClinicalBERT files from the hub (HF_ENDPOINT), both local servers
// started here; zero-shot on real chest X-rays with MedCLIP's prompts, against MedCLIP's own PromptClassifier
// (test/fixtures/medclip/make_medclip.py). Then from the cache alone, offline; a local zip; and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { cliAsync } from '../helpers/cli.ts';
import { loadMedclipReference, medclipImages, medclipResnetZip, MEDCLIP_RESNET_RELEASE, MEDCLIP_ZIP, startMedclipServers } from '../helpers/medclip-release.ts';

const ref = loadMedclipReference();
const images = medclipImages(ref);

/** The largest difference between the CLI's JSON scores and MedCLIP's softmax over PromptClassifier's logits. */
function maxDiff(stdout: string, probs = ref.probs): number {
  const out = JSON.parse(stdout) as { labels: string[]; results: Array<{ input: string; scores: Record<string, number> }> };
  assert.deepEqual(out.labels, ref.class_names);
  assert.deepEqual(out.results.map((r) => r.input), images);
  const got = out.results.flatMap((r) => ref.class_names.map((c) => r.scores[c]!));
  return Math.max(...got.map((v, i) => Math.abs(v - probs[i]!)));
}

test('classify --model medclip-vit: the release zip and the two hub repositories, once; MedCLIP\'s probabilities; then offline', async () => {
  const servers = await startMedclipServers();
  const home = mkdtempSync(join(tmpdir(), 'clipmed-medclip-'));
  const env = { HF_ENDPOINT: servers.hub.endpoint, HF_HOME: home, HF_TOKEN: '', CLIPMED_CACHE: join(home, 'clipmed'), CLIPMED_RELEASE_ENDPOINT: servers.releaseEndpoint };
  const args = ['classify', '--model', 'medclip-vit', '--label-set', 'chexpert-5', '--json', ...images];
  try {
    const first = await cliAsync(env, ...args);
    assert.equal(first.code, 0, first.stderr);
    const d = maxDiff(first.stdout);
    assert.ok(d < 1e-4, `probabilities: max abs difference ${d}`);
    assert.match(first.stderr, /downloading http:\/\/127\.0\.0\.1:\d+\/pytrial\/medclip-vit-pretrained\.zip/);
    assert.equal(servers.zipDownloads(), 1);
    assert.equal(servers.hub.count({ method: 'GET', file: 'vocab.txt' }), 1);
    const models = await cliAsync(env, 'models', '--json');
    const entry = (JSON.parse(models.stdout).models as Array<{ name: string; cached: string | null }>).find((m) => m.name === 'medclip-vit')!;
    assert.match(entry.cached ?? '', /releases\/[0-9a-f]{16}\/medclip-vit-pretrained\.zip$/, 'clipmed models sees the cached release');
    const again = await cliAsync(env, ...args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(servers.zipDownloads(), 1, 'the zip is not downloaded twice');
    await servers.stop();
    const offline = await cliAsync({ ...env, HF_HUB_OFFLINE: '1' }, ...args);
    assert.equal(offline.code, 0, offline.stderr);
    assert.ok(maxDiff(offline.stdout) < 1e-4);
  } finally {
    await servers.stop();
  }
});

test('classify --model medclip-resnet: its release zip and Bio_ClinicalBERT\'s files, not the Swin config; MedCLIP-ResNet\'s probabilities', async () => {
  // the release zip holds the state dict that test/models/medclip.test.ts checks against MedCLIP's own code
  const servers = await startMedclipServers({ resnetZip: await medclipResnetZip() });
  const home = mkdtempSync(join(tmpdir(), 'clipmed-medclip-'));
  const env = { HF_ENDPOINT: servers.hub.endpoint, HF_HOME: home, HF_TOKEN: '', CLIPMED_CACHE: join(home, 'clipmed'), CLIPMED_RELEASE_ENDPOINT: servers.releaseEndpoint };
  try {
    const r = await cliAsync(env, 'classify', '--model', 'medclip-resnet', '--label-set', 'chexpert-5', '--json', ...images);
    assert.equal(r.code, 0, r.stderr);
    const d = maxDiff(r.stdout, ref.resnet.probs);
    assert.ok(d < 1e-4, `probabilities: max abs difference ${d}`);
    assert.match(r.stderr, /downloading http:\/\/127\.0\.0\.1:\d+\/pytrial\/medclip-pretrained\.zip/);
    assert.equal(servers.zipDownloads(MEDCLIP_RESNET_RELEASE), 1);
    assert.equal(servers.zipDownloads(), 0, 'the ViT release is not downloaded');
    assert.equal(servers.hub.count({ method: 'GET', file: 'vocab.txt' }), 1);
    assert.equal(servers.hub.requests.filter((q) => q.path.includes('swin-tiny-patch4-window7-224')).length, 0, 'the Swin config is not fetched');
  } finally {
    await servers.stop();
  }
});

test('classify --model <release zip>: a local zip in MedCLIP\'s layout; labels without MedCLIP prompts and a zip without weights are clear errors', async () => {
  const servers = await startMedclipServers();
  const home = mkdtempSync(join(tmpdir(), 'clipmed-medclip-'));
  const env = { HF_ENDPOINT: servers.hub.endpoint, HF_HOME: home, HF_TOKEN: '', CLIPMED_CACHE: join(home, 'clipmed') };
  try {
    const ok = await cliAsync(env, 'classify', '--model', MEDCLIP_ZIP, '--label-set', 'chexpert-5', '--json', ...images);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(maxDiff(ok.stdout) < 1e-4);
    assert.equal(servers.zipDownloads(), 0, 'a local zip is not downloaded');

    const labels = await cliAsync(env, 'classify', '--model', MEDCLIP_ZIP, '--labels', 'normal,pneumonia', images[0]!);
    assert.equal(labels.code, 2, labels.stderr);
    assert.match(labels.stderr, /\["normal","pneumonia"\].*prompts for Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion/);
    // the user's own templates replace MedCLIP's prompts
    const own = await cliAsync(env, 'classify', '--model', MEDCLIP_ZIP, '--labels', 'normal,pneumonia', '-T', 'a chest x-ray with {}', '--json', images[0]!);
    assert.equal(own.code, 0, own.stderr);
    assert.deepEqual(JSON.parse(own.stdout).labels, ['normal', 'pneumonia']);

    const bad = join(home, 'medclip-vit-broken.zip');
    writeFileSync(bad, zipSync({ 'README.txt': new TextEncoder().encode('no weights here') }));
    const broken = await cliAsync(env, 'classify', '--model', bad, '--label-set', 'chexpert-5', images[0]!);
    assert.equal(broken.code, 2, broken.stderr);
    assert.match(broken.stderr, /medclip-vit-broken\.zip.*the zip has no pytorch_model\.bin; it holds README\.txt/);
  } finally {
    await servers.stop();
  }
});
