// `--model hf-hub:...` fetches exactly the files the model spec names, for each repository layout, against a
// local server in the hub's layout reached through HF_ENDPOINT. A BiomedCLIP-layout repository without a
// vocabulary takes it from the repository its config names (text_cfg.hf_tokenizer_name), as open_clip does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliAsync } from '../helpers/cli.ts';
import { startHubServer } from '../helpers/hub-server.ts';
import { maxRelError } from '../helpers/reference.ts';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const BIOMED = join(FIX, 'biomedclip/tiny');
const biomedRef = JSON.parse(readFileSync(join(FIX, 'biomedclip/reference.json'), 'utf8')) as Record<string, any>;
const BERT = 'microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract';

const clipmed = (env: Record<string, string>, ...args: string[]) => cliAsync({ HF_TOKEN: '', ...env }, ...args);

function hubEnv(endpoint: string): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), 'clipmed-hf-'));
  return { HF_ENDPOINT: endpoint, HF_HOME: home, CLIPMED_CACHE: join(home, 'clipmed') };
}

/** Hub paths asked for (GET or HEAD), as `repo/file`. */
function asked(hub: { requests: Array<{ path: string; on: string }> }): string[] {
  return hub.requests.filter((r) => r.on === 'hub').map((r) => /^\/(.+)\/resolve\/[^/]+\/(.+)$/.exec(r.path.split('?')[0]!)).filter((m) => m).map((m) => `${m![1]}/${m![2]}`);
}

test('hub by spec: a BiomedCLIP layout without vocab.txt takes it from the hf_tokenizer_name repository', async () => {
  const hub = await startHubServer({
    repo: 'clipmed-test/biomedclip-no-vocab',
    source: BIOMED,
    files: ['open_clip_config.json', 'open_clip_pytorch_model.bin'],
    extraRepos: [{ repo: BERT, source: BIOMED, files: ['vocab.txt'] }],
  });
  try {
    const env = hubEnv(hub.endpoint);
    const r = await clipmed(env, 'embed', '--model', `hf-hub:${hub.repo}`, ...biomedRef.texts.flatMap((t: string) => ['--text', t]), '--json');
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout).texts.flatMap((t: { embedding: number[] }) => t.embedding);
    assert.ok(maxRelError(got, biomedRef.text_features, 24) < 1e-4);
    const paths = asked(hub);
    assert.ok(paths.includes(`${BERT}/vocab.txt`), paths.join(', '));
    assert.ok(paths.includes(`${hub.repo}/vocab.txt`), 'the model repository is asked first');
    // nothing outside the spec's files: the vocabulary (or its tokenizer.json form) and tokenizer_config.json
    const fromBert = new Set(paths.filter((p) => p.startsWith(`${BERT}/`)).map((p) => p.slice(BERT.length + 1)));
    assert.ok([...fromBert].every((f) => ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json'].includes(f)), [...fromBert].join(', '));
    assert.ok(!paths.some((p) => p.endsWith('.safetensors') && p.startsWith(BERT)));

    // tokenize loads the tokenizer only: the same ids as the reference
    const tok = await clipmed(env, 'tokenize', '--model', `hf-hub:${hub.repo}`, ...biomedRef.texts.flatMap((t: string) => ['--text', t]), '--json');
    assert.equal(tok.code, 0, tok.stderr);
    assert.deepEqual(JSON.parse(tok.stdout).map((x: { tokens: number[] }) => x.tokens), biomedRef.tokens);
  } finally {
    await hub.stop();
  }
});

test('hub by spec: the model repository\'s own vocabulary is used when it has one; a missing one is named', async () => {
  const own = await startHubServer({ repo: 'clipmed-test/biomedclip', source: BIOMED, files: ['open_clip_config.json', 'open_clip_pytorch_model.bin', 'vocab.txt'] });
  try {
    const env = hubEnv(own.endpoint);
    const r = await clipmed(env, 'tokenize', '--model', `hf-hub:${own.repo}`, '--text', biomedRef.texts[0], '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout)[0].tokens, biomedRef.tokens[0]);
    assert.ok(!existsSync(join(env.CLIPMED_CACHE!, 'graphs')), 'tokenize builds no graphs');
    assert.ok(!asked(own).some((p) => p.startsWith(BERT)));
  } finally {
    await own.stop();
  }
  const none = await startHubServer({ repo: 'clipmed-test/biomedclip-bare', source: BIOMED, files: ['open_clip_config.json', 'open_clip_pytorch_model.bin'] });
  try {
    const r = await clipmed(hubEnv(none.endpoint), 'tokenize', '--model', `hf-hub:${none.repo}`, '--text', 'lung');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /BiomedNLP-BiomedBERT-base-uncased-abstract/);
  } finally {
    await none.stop();
  }
});

test('hub by spec: transformers CLIP and SigLIP layouts fetch their configs, weights and tokenizer files', async () => {
  for (const [name, files] of [
    ['hf-clip', ['config.json', 'preprocessor_config.json', 'model.safetensors', 'tokenizer_config.json', 'special_tokens_map.json']],
    ['siglip', ['config.json', 'preprocessor_config.json', 'model.safetensors', 'tokenizer_config.json', 'special_tokens_map.json', 'spiece.model']],
  ] as const) {
    const ref = JSON.parse(readFileSync(join(FIX, name, 'reference.json'), 'utf8')) as Record<string, any>;
    const hub = await startHubServer({ repo: `clipmed-test/${name}`, source: join(FIX, name, 'tiny'), files: [...files] });
    try {
      const r = await clipmed(hubEnv(hub.endpoint), 'tokenize', '--model', `hf-hub:${hub.repo}`, ...ref.texts.flatMap((t: string) => ['--text', t]), '--json');
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stdout).map((x: { tokens: number[] }) => x.tokens), ref.tokens, name);
      for (const f of files) assert.ok(hub.count({ file: f }) >= 1, `${name}: ${f} fetched`);
    } finally {
      await hub.stop();
    }
  }
});

test('hub by spec: the registered name biomedclip downloads by spec and classifies with its registry template set', async () => {
  const { getSpec } = await import('../../src/models/pretrained.ts');
  const { ClipModel, buildClassifier, classifyRasters, decodeImageFile, scoringForClassifier } = await import('../../src/index.ts');
  const { DATA, isolateCache } = await import('../helpers/reference.ts');
  const entry = getSpec('biomedclip');
  assert.equal(entry.source.kind, 'hub');
  const repo = (entry.source as { repo: string }).repo;
  // the tiny BiomedCLIP-layout fixture stands in for the published repository, its vocabulary only in the BERT one
  const hub = await startHubServer({ repo, source: BIOMED, files: ['open_clip_config.json', 'open_clip_pytorch_model.bin'], extraRepos: [{ repo: BERT, source: BIOMED, files: ['vocab.txt'] }] });
  try {
    const xray = join(DATA, 'pneumonia-cxr/test/NORMAL/IM-0023-0001.jpeg');
    const r = await clipmed(hubEnv(hub.endpoint), 'classify', '--model', 'biomedclip', '--labels', 'normal,pneumonia', xray, '--json');
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout).results[0].scores as Record<string, number>;
    // the same through the library on the local folder with the registry's template set named explicitly
    isolateCache();
    const m = await ClipModel.load(BIOMED, { threads: 1 });
    const c = await buildClassifier(m, { labels: ['normal', 'pneumonia'], templateSet: entry.templates });
    const want = await classifyRasters(m, [await decodeImageFile(xray)], c, scoringForClassifier(m, c));
    assert.ok(Math.abs(got.normal! - want.probs.data[0]!) < 1e-5, `${got.normal} vs ${want.probs.data[0]}`);
    const generic = await buildClassifier(m, { labels: ['normal', 'pneumonia'], templateSet: 'clip-medical' });
    const other = await classifyRasters(m, [await decodeImageFile(xray)], generic, scoringForClassifier(m, generic));
    assert.ok(Math.abs(other.probs.data[0]! - want.probs.data[0]!) > 1e-6, 'the template set makes a difference here');
    await m.release();
  } finally {
    await hub.stop();
  }
});
