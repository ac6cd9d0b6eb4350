// The cross-process download lock: a live owner is waited for, a dead one's lock is taken over.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OPEN_CLIP_FILES, resolveHubSource } from '../../../src/node/hub/resolve.ts';
import { FIXTURES } from '../../helpers/reference.ts';
import { startHubServer, useHubEnv, type HubServer } from '../../helpers/hub-server.ts';

const WEIGHTS = 'open_clip_pytorch_model.bin';

describe('hub download lock', () => {
  let hub: HubServer;
  let env: ReturnType<typeof useHubEnv>;
  let spec: string;
  let lock: string;
  let blob: string;

  beforeEach(async () => {
    hub = await startHubServer();
    env = useHubEnv(hub.endpoint);
    spec = `hf-hub:${hub.repo}`;
    const sha = hub.files.get(WEIGHTS)!.sha256;
    lock = join(env.cache, '.locks', 'models--clipmed-test--tiny-quickgelu', `${sha}.clipmed.lock`);
    blob = join(env.cache, 'models--clipmed-test--tiny-quickgelu', 'blobs', sha);
    mkdirSync(join(lock, '..'), { recursive: true });
  });
  afterEach(async () => {
    await hub.stop();
    env.restore();
  });

  it('takes over the lock of a process that died', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lock, JSON.stringify({ pid: Number(dead.stdout), host: hostname() }));
    const warnings: string[] = [];
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES, onWarning: (m) => void warnings.push(m) });
    assert.ok(existsSync(join(folder, WEIGHTS)));
    assert.equal(hub.count({ method: 'GET', on: 'cdn' }), 1);
    assert.ok(!existsSync(lock));
    assert.deepEqual(warnings, []);
  });

  it('waits for a live owner, then uses the blob it finished instead of downloading it again', async () => {
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname() }));
    const folder = await resolveHubSource(spec, {
      files: OPEN_CLIP_FILES,
      onWarning: (m) => {
        assert.match(m, new RegExp(`waiting for process ${process.pid} on ${hostname()}, which is downloading the same file`));
        // play the other process: finish the blob and release the lock
        copyFileSync(join(FIXTURES, 'tiny-quickgelu', WEIGHTS), blob);
        rmSync(lock);
      },
    });
    assert.ok(existsSync(join(folder, WEIGHTS)));
    assert.equal(hub.count({ method: 'GET', on: 'cdn' }), 0);
  });
});
