// `--model hf-hub:ORG/NAME` end to end through the CLI, against a local server in the hub's layout, reached
// through HF_ENDPOINT as a user would: download once, verify, cache, resume, reject corruption, work offline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliAsync } from '../helpers/cli.ts';
import { startHubServer } from '../helpers/hub-server.ts';
import { loadReference, maxRelError } from '../helpers/reference.ts';

const ref = loadReference('tiny-quickgelu');

/** clipmed without blocking this process, which serves the hub; no token from the environment. */
const clipmed = (env: Record<string, string>, ...args: string[]) => cliAsync({ HF_TOKEN: '', ...env }, ...args);

test('embed --model hf-hub: downloads once, then runs from the cache and offline', async () => {
  const hub = await startHubServer();
  const home = mkdtempSync(join(tmpdir(), 'clipmed-hf-'));
  const env = { HF_ENDPOINT: hub.endpoint, HF_HOME: home, CLIPMED_CACHE: join(home, 'clipmed') };
  try {
    const args = ['embed', '--model', `hf-hub:${hub.repo}`, ...ref.texts.flatMap((t) => ['--text', t]), '--json'];
    const first = await clipmed(env, ...args);
    assert.equal(first.code, 0, first.stderr);
    const out = JSON.parse(first.stdout);
    assert.ok(maxRelError(out.texts.flatMap((t: { embedding: number[] }) => t.embedding), ref.text_features.flat(), 32) < 1e-4);
    assert.equal(hub.count({ on: 'cdn', file: 'open_clip_pytorch_model.bin' }), 1);
    const again = await clipmed(env, ...args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(hub.count({ on: 'cdn', file: 'open_clip_pytorch_model.bin' }), 1, 'no second download');
    await hub.stop();
    const offline = await clipmed({ ...env, HF_HUB_OFFLINE: '1' }, ...args);
    assert.equal(offline.code, 0, offline.stderr);
  } finally {
    await hub.stop().catch(() => {});
  }
});

test('an interrupted download resumes; a corrupted one is refused naming the file and both hashes', async () => {
  const hub = await startHubServer();
  const home = mkdtempSync(join(tmpdir(), 'clipmed-hf-'));
  const env = { HF_ENDPOINT: hub.endpoint, HF_HOME: home, CLIPMED_CACHE: join(home, 'clipmed') };
  try {
    hub.knobs.corrupt = true;
    const bad = await clipmed(env, 'info', '--model', `hf-hub:${hub.repo}`);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /open_clip_pytorch_model\.bin/);
    assert.match(bad.stderr, /[0-9a-f]{64}[\s\S]*[0-9a-f]{64}/);
    hub.knobs.corrupt = false;
    hub.knobs.cut = { bytes: 100_000, times: 1 };
    const resumed = await clipmed(env, 'info', '--model', `hf-hub:${hub.repo}`, '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok(hub.count({ on: 'cdn', range: true }) >= 1, 'the second request asked for the rest with Range');
    assert.equal(JSON.parse(resumed.stdout).checkpointSha256, hub.files.get('open_clip_pytorch_model.bin')!.sha256);
  } finally {
    await hub.stop();
  }
});

test('a registered name that is not on the hub says where to get it', async () => {
  const r = await clipmed({}, 'info', '--model', 'chexzero');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not on the hub.*--protocol chexzero/s);
});
