// Gated models: the token from HF_TOKEN goes to the hub, never to the CDN the hub redirects to.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkError } from '../../../src/errors.ts';
import { OPEN_CLIP_FILES, resolveHubSource } from '../../../src/node/hub/resolve.ts';
import { startHubServer, useHubEnv, type HubServer } from '../../helpers/hub-server.ts';

describe('hub tokens', () => {
  let hub: HubServer;
  let env: ReturnType<typeof useHubEnv>;
  let spec: string;

  beforeEach(async () => {
    hub = await startHubServer({ separateCdn: true });
    hub.knobs.token = 'hf_secret';
    env = useHubEnv(hub.endpoint);
    spec = `hf-hub:${hub.repo}`;
  });
  afterEach(async () => {
    await hub.stop();
    env.restore();
  });

  it('without HF_TOKEN a 401 says the model may be gated, where to accept the licence and what to set', async () => {
    await assert.rejects(resolveHubSource(spec, { files: OPEN_CLIP_FILES }), (e: unknown) => {
      assert.ok(e instanceof NetworkError);
      assert.equal(e.status, 401);
      assert.match(e.message, /may be gated/);
      assert.match(e.message, new RegExp(`Accept its licence on the model page ${hub.endpoint}/${hub.repo}`));
      assert.match(e.message, /set HF_TOKEN/);
      assert.match(e.message, /the hub says: Access to model clipmed-test\/tiny-quickgelu is restricted/);
      return true;
    });
    assert.ok(hub.requests.every((r) => r.authorization === undefined));
    assert.ok(!existsSync(join(env.cache, 'models--clipmed-test--tiny-quickgelu', 'snapshots')));
  });

  it('a refused token is reported as such', async () => {
    process.env.HF_TOKEN = 'hf_wrong';
    await assert.rejects(resolveHubSource(spec, { files: OPEN_CLIP_FILES }), /may be gated.*the token in HF_TOKEN was refused/);
  });

  it('with HF_TOKEN sends it as a Bearer token to the hub only, not to the CDN on another origin', async () => {
    process.env.HF_TOKEN = 'hf_secret';
    const folder = await resolveHubSource(spec, { files: OPEN_CLIP_FILES });
    assert.ok(existsSync(join(folder, 'open_clip_pytorch_model.bin')));
    const onHub = hub.requests.filter((r) => r.on === 'hub');
    const onCdn = hub.requests.filter((r) => r.on === 'cdn');
    assert.ok(onHub.length >= 3 && onCdn.length === 1);
    assert.ok(onHub.every((r) => r.authorization === 'Bearer hf_secret'));
    assert.equal(onCdn[0].authorization, undefined);
    assert.ok(onCdn[0].path.startsWith('/cdn/'));
  });

  it('reads HUGGING_FACE_HUB_TOKEN, and the token file of `huggingface-cli login` in HF_HOME', async () => {
    process.env.HUGGING_FACE_HUB_TOKEN = 'hf_secret';
    await resolveHubSource(spec, { files: ['open_clip_config.json'] });
    delete process.env.HUGGING_FACE_HUB_TOKEN;
    mkdirSync(env.home, { recursive: true });
    writeFileSync(join(env.home, 'token'), 'hf_secret\n');
    hub.requests.length = 0;
    await resolveHubSource(spec, { files: ['open_clip_config.json'] });
    assert.equal(hub.requests[0].authorization, 'Bearer hf_secret');
  });
});
