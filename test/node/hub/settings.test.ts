// hf-hub: spec parsing, settings from the environment, and the progress-bar adapter.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.ts';
import { formatBytes, hubProgressBars } from '../../../src/node/hub/progress.ts';
import { hubSettings, parseHubSpec, resolveUrl } from '../../../src/node/hub/settings.ts';
import { useHubEnv } from '../../helpers/hub-server.ts';

describe('parseHubSpec', () => {
  it('splits repo and revision, main by default', () => {
    assert.deepEqual(parseHubSpec('hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224'), {
      repo: 'microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224',
      revision: 'main',
    });
    assert.deepEqual(parseHubSpec('hf-hub:org/name@v1.0'), { repo: 'org/name', revision: 'v1.0' });
    assert.deepEqual(parseHubSpec('hf-hub:org/name@refs/pr/1'), { repo: 'org/name', revision: 'refs/pr/1' });
  });

  it('rejects ids that are not hub repo ids, naming them', () => {
    for (const bad of ['org/name', 'hf-hub:', 'hf-hub:a/b/c', 'hf-hub:a--b/c', 'hf-hub:../x', 'hf-hub:a/b@', 'hf-hub:a/b@x/../y', 'hf-hub:a b/c']) {
      assert.throws(() => parseHubSpec(bad), (e: unknown) => e instanceof ConfigError && e.message.includes(JSON.stringify(bad)), bad);
    }
  });

  it('escapes the revision and each part of the file in resolve URLs', () => {
    assert.equal(resolveUrl('https://huggingface.co', 'org/name', 'refs/pr/1', 'sub dir/a+b.json'), 'https://huggingface.co/org/name/resolve/refs%2Fpr%2F1/sub%20dir/a%2Bb.json');
  });
});

describe('hubSettings', () => {
  let env: ReturnType<typeof useHubEnv>;
  beforeEach(() => {
    env = useHubEnv('https://hub.example.org/');
  });
  afterEach(() => env.restore());

  it('reads the huggingface_hub variables', () => {
    const s = hubSettings();
    assert.equal(s.endpoint, 'https://hub.example.org');
    assert.equal(s.cacheDir, join(env.home, 'hub'));
    assert.equal(s.offline, false);
    assert.equal(s.token, undefined);
    assert.equal(s.downloadTimeoutMs, 10_000);
    process.env.HF_HUB_CACHE = '/elsewhere/hub';
    process.env.HF_HUB_OFFLINE = 'true';
    process.env.HF_TOKEN = ' hf_abc ';
    process.env.HF_HUB_DOWNLOAD_TIMEOUT = '60';
    const t = hubSettings();
    assert.deepEqual([t.cacheDir, t.offline, t.token, t.downloadTimeoutMs], ['/elsewhere/hub', true, 'hf_abc', 60_000]);
    assert.equal(hubSettings({ offline: false, token: undefined }).token, undefined);
  });

  it('rejects a bad endpoint or timeout with the variable named', () => {
    process.env.HF_ENDPOINT = 'ftp://x';
    assert.throws(() => hubSettings(), /HF_ENDPOINT="ftp:\/\/x"/);
    process.env.HF_ENDPOINT = 'https://huggingface.co';
    process.env.HF_HUB_ETAG_TIMEOUT = 'soon';
    assert.throws(() => hubSettings(), /HF_HUB_ETAG_TIMEOUT="soon"/);
  });
});

describe('hubProgressBars', () => {
  function sink(isTTY: boolean) {
    let text = '';
    const s = new Writable({
      write(chunk, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    }) as Writable & { isTTY?: boolean; columns?: number; cursorTo?: unknown; clearLine?: unknown; moveCursor?: unknown; clearScreenDown?: unknown };
    s.isTTY = isTTY;
    s.columns = 120;
    // the terminal calls cli-progress makes on a TTY
    s.cursorTo = (_x: number, _y?: number) => true;
    s.clearLine = () => true;
    s.moveCursor = () => true;
    s.clearScreenDown = () => true;
    return { stream: s, text: () => text };
  }

  it('draws a bar per file on a terminal, ending at the full size', () => {
    const out = sink(true);
    const bars = hubProgressBars(out.stream);
    bars.onProgress({ file: 'open_clip_pytorch_model.bin', done: 0, total: 7073323 });
    bars.onProgress({ file: 'open_clip_pytorch_model.bin', done: 7073323, total: 7073323 });
    bars.stop();
    assert.match(out.text(), /open_clip_pytorch_model\.bin \[[^\]]+\] 100% 7\.1 MB\/7\.1 MB/);
  });

  it('writes nothing when stderr is not a terminal', () => {
    const out = sink(false);
    const bars = hubProgressBars(out.stream);
    bars.onProgress({ file: 'a.bin', done: 5, total: 10 });
    bars.stop();
    assert.equal(out.text(), '');
  });

  it('formats sizes', () => {
    assert.deepEqual([formatBytes(574), formatBytes(7073323), formatBytes(1.5e9)], ['574 B', '7.1 MB', '1.5 GB']);
  });
});
