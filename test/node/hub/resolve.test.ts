// resolveHubSource against a local stand-in for the hub (test/helpers/hub-server.ts), reached through HF_ENDPOINT
// as a user would: the cache layout on disk (huggingface_hub's), cache hits, alternatives, offline use.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkError } from '../../../src/errors.ts';
import { OPEN_CLIP_FILES, resolveHubSnapshot, resolveHubSource } from '../../../src/node/hub/resolve.ts';
import { resolveLocalSource } from '../../../src/node/source.ts';
import { startHubServer, useHubEnv, type HubServer } from '../../helpers/hub-server.ts';

const CONFIG = 'open_clip_config.json';
const WEIGHTS = 'open_clip_pytorch_model.bin';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('resolveHubSource', () => {
  let hub: HubServer;
  let env: ReturnType<typeof useHubEnv>;
  let spec: string;
  const warnings: string[] = [];
  const onWarning = (m: string) => void warnings.push(m);

  beforeEach(async () => {
    hub = await startHubServer();
    env = useHubEnv(hub.endpoint);
    spec = `hf-hub:${hub.repo}`;
    warnings.length = 0;
  });
  afterEach(async () => {
    await hub.stop();
    env.restore();
  });

  it('downloads into the huggingface_hub cache layout: blobs by hash, relative snapshot symlinks, refs/main', async () => {
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES, onWarning });
    const root = join(env.cache, 'models--clipmed-test--tiny-quickgelu');
    assert.equal(folder, join(root, 'snapshots', hub.commit));
    assert.equal(readFileSync(join(root, 'refs', 'main'), 'utf8'), hub.commit);
    const config = hub.files.get(CONFIG)!;
    const weights = hub.files.get(WEIGHTS)!;
    // small files are named by their git blob sha1, LFS files by their sha256
    assert.deepEqual(readdirSync(join(root, 'blobs')).sort(), [config.gitSha1, weights.sha256].sort());
    assert.equal(readlinkSync(join(folder, CONFIG)), `../../blobs/${config.gitSha1}`);
    assert.equal(readlinkSync(join(folder, WEIGHTS)), `../../blobs/${weights.sha256}`);
    assert.ok(lstatSync(join(folder, WEIGHTS)).isSymbolicLink());
    assert.equal(sha256(readFileSync(join(folder, WEIGHTS))), weights.sha256);
    assert.deepEqual(readFileSync(join(folder, CONFIG)), config.bytes);
    assert.deepEqual(readdirSync(folder).sort(), [CONFIG, WEIGHTS]);
    // the safetensors alternative was asked for first and its 404 moved on to the .bin
    assert.equal(hub.count({ method: 'HEAD', file: 'open_clip_model.safetensors' }), 1);
    assert.equal(hub.count({ method: 'GET', on: 'cdn', file: WEIGHTS }), 1);
    assert.deepEqual(warnings, []);
    // the model loader reads the snapshot like any local folder
    const local = await resolveLocalSource(folder);
    assert.equal(local.format, 'open_clip');
    assert.equal(realpathSync(local.weightsFile), join(root, 'blobs', weights.sha256));
  });

  it('a second resolve downloads nothing; a commit revision asks the hub nothing at all', async () => {
    const first = await resolveHubSnapshot(spec, { files: OPEN_CLIP_FILES });
    assert.deepEqual(first.files, [CONFIG, WEIGHTS]);
    const gets = hub.count({ method: 'GET' });
    assert.equal(gets, 2);
    const again = await resolveHubSource(spec, { files: OPEN_CLIP_FILES });
    assert.equal(again, first.folder);
    assert.equal(hub.count({ method: 'GET' }), gets);
    // the .no_exist marker spares the safetensors HEAD the second time
    assert.equal(hub.count({ method: 'HEAD', file: 'open_clip_model.safetensors' }), 1);
    const before = hub.requests.length;
    assert.equal(await resolveHubSource(`${spec}@${hub.commit}`, { files: OPEN_CLIP_FILES }), first.folder);
    assert.equal(hub.requests.length, before);
  });

  it('with HF_HUB_OFFLINE=1 resolves from the cache with the server stopped, and names what is missing', async () => {
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES });
    await hub.stop();
    process.env.HF_HUB_OFFLINE = '1';
    assert.equal(await resolveHubSource(spec, { files: OPEN_CLIP_FILES }), folder);
    await assert.rejects(resolveHubSource(spec, { files: [CONFIG, 'tokenizer.json'] }), (e: unknown) => {
      assert.ok(e instanceof NetworkError);
      assert.match(e.message, /HF_HUB_OFFLINE/);
      assert.match(e.message, /tokenizer\.json is missing from the cached snapshot/);
      return true;
    });
    await assert.rejects(resolveHubSource('hf-hub:someone/never-downloaded', { files: [CONFIG] }), /HF_HUB_OFFLINE.*no someone\/never-downloaded@main/);
  });

  it('falls back to the cached snapshot when the hub cannot be reached, and says so', async () => {
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES });
    await hub.stop();
    assert.equal(await resolveHubSource(spec, { files: OPEN_CLIP_FILES, onWarning }), folder);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], new RegExp(`cannot reach ${hub.endpoint}.*using the cached snapshot ${hub.commit}`));
    await assert.rejects(resolveHubSource('hf-hub:someone/never-downloaded', { files: [CONFIG] }), (e: unknown) => {
      assert.ok(e instanceof NetworkError);
      assert.match(e.message, /cannot reach/);
      assert.match(e.message, /hub cache has no someone\/never-downloaded@main/);
      return true;
    });
  });

  it('asks again once when the hub drops a connection without answering', async () => {
    hub.knobs.hubReset = 1;
    await resolveHubSource(spec, { files: ['open_clip_config.json'] });
    assert.equal(hub.count({ method: 'HEAD', file: CONFIG }), 2);
    hub.knobs.hubReset = 2;
    await assert.rejects(resolveHubSource(`${spec}@v2`, { files: [CONFIG] }), (e: unknown) => e instanceof NetworkError && /cannot reach .*socket hang up/.test(e.message));
  });

  it('404s name the repo, the file and the revision', async () => {
    await assert.rejects(resolveHubSource(spec, { files: [['model.safetensors', 'pytorch_model.bin']] }), (e: unknown) => {
      assert.ok(e instanceof NetworkError);
      assert.equal(e.status, 404);
      assert.match(e.message, /none of model\.safetensors, pytorch_model\.bin found in clipmed-test\/tiny-quickgelu at revision main/);
      return true;
    });
    await assert.rejects(resolveHubSource(spec, { files: ['tokenizer.json'] }), /file tokenizer\.json not found in clipmed-test\/tiny-quickgelu at revision main \(HTTP 404\)/);
    await assert.rejects(resolveHubSource(`${spec}@v9`, { files: [CONFIG] }), /revision "v9" not found in clipmed-test\/tiny-quickgelu/);
    await assert.rejects(resolveHubSource('hf-hub:clipmed-test/other', { files: [CONFIG] }), /repository clipmed-test\/other not found/);
    // an optional file that is absent is no error
    const s = await resolveHubSnapshot(spec, { files: [CONFIG, { oneOf: ['tokenizer.json'], optional: true }] });
    assert.deepEqual(s.files, [CONFIG, undefined]);
  });

  it('without a file list, takes the files of the layout the repo has (open_clip here)', async () => {
    const s = await resolveHubSnapshot(spec);
    assert.deepEqual(s.files, [CONFIG, WEIGHTS]);
    assert.equal(s.revision, 'main');
    assert.equal(s.commit, hub.commit);
    // config.json was never asked for: open_clip_config.json came first and exists
    assert.equal(hub.count({ file: 'config.json' }), 0);
  });
});
