// clipmed models as a user runs it: the registry, with the models found in a Hugging Face hub cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/reference.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function clipmed(env: Record<string, string>, ...args: string[]) {
  const base = { ...process.env };
  for (const k of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME']) delete base[k];
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/clipmed.js'), 'models', ...args], { encoding: 'utf8', env: { ...base, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BIOMEDCLIP = 'models--microsoft--BiomedCLIP-PubMedBERT_256-vit_base_patch16_224';

test('models --json lists the registry and finds a cached snapshot under HF_HUB_CACHE', () => {
  const cache = tempDir('clipmed-hub-');
  const old = join(cache, BIOMEDCLIP, 'snapshots', 'aaaa');
  const recent = join(cache, BIOMEDCLIP, 'snapshots', 'bbbb');
  mkdirSync(old, { recursive: true });
  mkdirSync(recent, { recursive: true });
  utimesSync(old, new Date(1e12), new Date(1e12)); // older: the newest revision is the one reported
  mkdirSync(join(cache, 'models--vinid--plip'), { recursive: true }); // a repo folder without snapshots is not cached
  const r = clipmed({ HF_HUB_CACHE: cache }, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.hubCache, cache);
  const byName = new Map(out.models.map((m: any) => [m.name, m]));
  assert.equal(out.models.length, 17);
  const b = byName.get('biomedclip') as any;
  assert.equal(b.family, 'open_clip_custom_text');
  assert.equal(b.license, 'MIT');
  assert.equal(b.gated, false);
  assert.equal(b.cached, recent);
  assert.equal((byName.get('plip') as any).cached, null);
  const c = byName.get('chexzero') as any;
  assert.equal(c.source.kind, 'manual');
  assert.equal(c.cached, null);
  assert.equal(c.unverified, true);
  assert.equal((byName.get('medsiglip-448') as any).gated, true);
});

test('models finds the cache under HF_HOME/hub and prints a table', () => {
  const home = tempDir('clipmed-hfhome-');
  mkdirSync(join(home, 'hub', 'models--google--medsiglip-448', 'snapshots', 'cccc'), { recursive: true });
  const j = JSON.parse(clipmed({ HF_HOME: home }, '--json').stdout);
  assert.equal(j.hubCache, join(home, 'hub'));
  assert.deepEqual(j.models.filter((m: any) => m.cached).map((m: any) => m.name), ['medsiglip-448']);
  const t = clipmed({ HF_HOME: home });
  assert.equal(t.code, 0, t.stderr);
  const lines = t.stdout.split('\n');
  assert.match(lines[0]!, /^name\s+family\s+size\s+licence\s+gated\s+local$/);
  assert.match(t.stdout, /medsiglip-448\s+siglip\s+3\.5 GB\s+.*gated\s+cached/);
  assert.match(t.stdout, /chexzero\s+open_clip\s+338 MB\s+.*manual download/);
  assert.match(t.stdout, /conch\s+conch\s+1\.6 GB/);
});
