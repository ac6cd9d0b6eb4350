// Interrupted, resumed and corrupted downloads against the local hub stand-in (test/helpers/hub-server.ts).
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DecodeError, NetworkError } from '../../../src/errors.ts';
import { OPEN_CLIP_FILES, resolveHubSource } from '../../../src/node/hub/resolve.ts';
import type { HubProgress } from '../../../src/node/hub/settings.ts';
import { startHubServer, useHubEnv, type HubServer } from '../../helpers/hub-server.ts';

const WEIGHTS = 'open_clip_pytorch_model.bin';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('hub downloads', () => {
  let hub: HubServer;
  let env: ReturnType<typeof useHubEnv>;
  let spec: string;
  let blobs: string;

  beforeEach(async () => {
    hub = await startHubServer();
    env = useHubEnv(hub.endpoint);
    spec = `hf-hub:${hub.repo}`;
    blobs = join(env.cache, 'models--clipmed-test--tiny-quickgelu', 'blobs');
  });
  afterEach(async () => {
    await hub.stop();
    env.restore();
  });

  it('keeps an interrupted download as blobs/<sha256>.incomplete and resumes it with Range in the next run', async () => {
    const w = hub.files.get(WEIGHTS)!;
    const cutAt = 3_000_000;
    hub.knobs.cut = { bytes: cutAt, times: 1 };
    await assert.rejects(resolveHubSource(spec, { files: OPEN_CLIP_FILES, retries: 0 }), (e: unknown) => {
      assert.ok(e instanceof NetworkError);
      assert.match(e.message, new RegExp(`stopped after ${cutAt} of ${w.bytes.length} bytes`));
      assert.match(e.message, /run again to resume/);
      return true;
    });
    const partial = join(blobs, `${w.sha256}.incomplete`);
    assert.equal(statSync(partial).size, cutAt);
    assert.deepEqual(readFileSync(partial), w.bytes.subarray(0, cutAt));
    assert.ok(!existsSync(join(blobs, w.sha256)));

    const progress: HubProgress[] = [];
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES, retries: 0, onProgress: (p) => void progress.push(p) });
    const resumed = hub.requests.filter((r) => r.on === 'cdn' && r.method === 'GET');
    assert.deepEqual(resumed.map((r) => r.range), [undefined, `bytes=${cutAt}-`]);
    assert.equal(sha256(readFileSync(join(folder, WEIGHTS))), w.sha256);
    assert.ok(!existsSync(partial));
    // progress starts at the bytes already there and ends at the full size
    const mine = progress.filter((p) => p.file === WEIGHTS);
    assert.deepEqual(mine[0], { file: WEIGHTS, done: cutAt, total: w.bytes.length });
    assert.deepEqual(mine.at(-1), { file: WEIGHTS, done: w.bytes.length, total: w.bytes.length });
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i].done >= mine[i - 1].done);
  });

  it('retries within one run after dropped connections, resuming each time', async () => {
    const w = hub.files.get(WEIGHTS)!;
    hub.knobs.cut = { bytes: 1_000_000, times: 2 };
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES, retries: 3, retryDelayMs: 1 });
    const ranges = hub.requests.filter((r) => r.on === 'cdn' && r.method === 'GET').map((r) => r.range);
    assert.deepEqual(ranges, [undefined, 'bytes=1000000-', 'bytes=2000000-']);
    assert.equal(sha256(readFileSync(join(folder, WEIGHTS))), w.sha256);
  });

  it('gives up on a silent connection after the idle timeout and resumes', async () => {
    const w = hub.files.get(WEIGHTS)!;
    hub.knobs.cut = { bytes: 2_000_000, times: 1, stall: true };
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES, retries: 1, retryDelayMs: 1, downloadTimeoutMs: 300 });
    const ranges = hub.requests.filter((r) => r.on === 'cdn' && r.method === 'GET').map((r) => r.range);
    assert.deepEqual(ranges, [undefined, 'bytes=2000000-']);
    assert.equal(sha256(readFileSync(join(folder, WEIGHTS))), w.sha256);
    // without a retry left, the timeout is the error
    hub.knobs.cut = { bytes: 10, times: 1, stall: true };
    await assert.rejects(resolveHubSource(`${spec}@${hub.commit}`, { files: ['open_clip_config.json', 'open_clip_pytorch_model.bin'], cacheDir: join(env.home, 'other'), retries: 0, downloadTimeoutMs: 300 }), /stopped after 10 of 7073323 bytes.*no data for 0\.3 s/);
  });

  it('asks the hub for a fresh CDN URL when the CDN refuses the first one', async () => {
    hub.knobs.cdnRefuse = 1;
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES, retryDelayMs: 1 });
    assert.equal(sha256(readFileSync(join(folder, WEIGHTS))), hub.files.get(WEIGHTS)!.sha256);
    assert.equal(hub.count({ method: 'GET', on: 'cdn' }), 2);
    // the retry went through the resolve URL, whose 302 gave the CDN URL again
    assert.equal(hub.count({ method: 'GET', on: 'hub', file: WEIGHTS }), 1);
  });

  it('two resolves at once download each file once', async () => {
    const [a, b] = await Promise.all([resolveHubSource(spec, { files: OPEN_CLIP_FILES }), resolveHubSource(spec, { files: OPEN_CLIP_FILES })]);
    assert.equal(a, b);
    assert.equal(hub.count({ method: 'GET', on: 'cdn' }), 1);
    assert.equal(hub.count({ method: 'GET', file: 'open_clip_config.json' }), 1);
    assert.equal(sha256(readFileSync(join(a, WEIGHTS))), hub.files.get(WEIGHTS)!.sha256);
  });

  it('rejects corrupted bytes with both hashes, deletes them and links nothing', async () => {
    const w = hub.files.get(WEIGHTS)!;
    hub.knobs.corrupt = true;
    const bad = Buffer.from(w.bytes);
    bad[bad.length >> 1] ^= 0xff;
    await assert.rejects(resolveHubSource(spec, { files: OPEN_CLIP_FILES }), (e: unknown) => {
      assert.ok(e instanceof DecodeError);
      assert.match(e.message, new RegExp(`${WEIGHTS} is corrupted: expected sha256 ${w.sha256}, got ${sha256(bad)}`));
      assert.match(e.file!, new RegExp(`/resolve/[0-9a-f]{40}/${WEIGHTS}$`));
      return true;
    });
    assert.deepEqual(readdirSync(blobs), [hub.files.get('open_clip_config.json')!.gitSha1]);
    assert.ok(!existsSync(join(env.cache, 'models--clipmed-test--tiny-quickgelu', 'snapshots', hub.commit, WEIGHTS)));
    // once the server behaves, the next run downloads it afresh
    hub.knobs.corrupt = false;
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES });
    assert.equal(sha256(readFileSync(join(folder, WEIGHTS))), w.sha256);
  });

  it('checks small files against their git blob sha1 too', async () => {
    // Make every file "small": the weights then come straight from the hub, named by their git sha1.
    await hub.stop();
    hub = await startHubServer({ lfsAbove: Infinity });
    process.env.HF_ENDPOINT = hub.endpoint;
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES });
    const w = hub.files.get(WEIGHTS)!;
    assert.equal(hub.count({ on: 'cdn' }), 0);
    assert.ok(existsSync(join(blobs, w.gitSha1)));
    assert.equal(sha256(readFileSync(join(folder, WEIGHTS))), w.sha256);
  });
});
