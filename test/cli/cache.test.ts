// clipmed cache ls|rm|prune on a real compiled graph beside made-up leftovers (an interrupted compile, a graph
// of an older version, a temporary file) and a hub cache laid out as huggingface_hub lays it out (two
// revisions sharing a blob, one detached, one orphan blob).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../helpers/cli.ts';
import { FIXTURES, tempDir } from '../helpers/reference.ts';

const model = join(FIXTURES, 'tiny-quickgelu');

/** A hub cache with models--org--tiny: main -> rev1 (blobs a, b), detached rev2 (b, c), orphan d. */
function hubCache(): string {
  const hub = tempDir('clipmed-hub-');
  const repo = join(hub, 'models--org--tiny');
  const rev1 = '1'.repeat(40);
  const rev2 = '2'.repeat(40);
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  mkdirSync(join(repo, 'refs'));
  for (const [blob, size] of [['a', 1000], ['b', 2000], ['c', 4000], ['d', 8000]] as const) writeFileSync(join(repo, 'blobs', blob), Buffer.alloc(size));
  writeFileSync(join(repo, 'refs/main'), rev1);
  for (const [rev, files] of [[rev1, { 'config.json': 'a', 'model.bin': 'b' }], [rev2, { 'model.bin': 'b', 'tokenizer.json': 'c' }]] as const) {
    mkdirSync(join(repo, 'snapshots', rev), { recursive: true });
    for (const [name, blob] of Object.entries(files)) symlinkSync(`../../blobs/${blob}`, join(repo, 'snapshots', rev, name));
  }
  return hub;
}

test('cache ls, prune and rm: what is there, what is stale, and freeing it', () => {
  const cache = tempDir('clipmed-cache-');
  const hub = hubCache();
  const clipmed = cli({ CLIPMED_CACHE: cache, HF_HUB_CACHE: hub });
  assert.equal(clipmed('info', '--model', model).code, 0);
  const [graph] = readdirSync(join(cache, 'graphs'));
  // leftovers: an older graph version, an interrupted compile, a temporary file
  mkdirSync(join(cache, 'graphs/0000old'));
  writeFileSync(join(cache, 'graphs/0000old/meta.json'), JSON.stringify({ graphVersion: 1, family: 'open_clip' }));
  writeFileSync(join(cache, 'graphs/0000old/vision.onnx'), Buffer.alloc(5000));
  mkdirSync(join(cache, 'graphs/0000half'));
  writeFileSync(join(cache, 'graphs/0000half/vision.onnx.123.tmp'), Buffer.alloc(300));
  writeFileSync(join(cache, 'hashes.json.77.1.tmp'), '{');

  const ls = clipmed('cache', 'ls', '--json');
  assert.equal(ls.code, 0, ls.stderr);
  const listed = JSON.parse(ls.stdout);
  const byKey = Object.fromEntries(listed.clipmed.entries.map((e: { key: string }) => [e.key, e]));
  assert.equal(byKey[graph!].kind, 'graph');
  assert.equal(byKey[graph!].complete, true);
  assert.equal(byKey['0000half'].complete, false);
  assert.equal(byKey['0000old'].graphVersion, 1);
  assert.equal(byKey['hashes.json.77.1.tmp'].kind, 'tmp');
  const [repo] = listed.hub.repos;
  assert.deepEqual([repo.repo, repo.type, repo.size, repo.orphanBlobs], ['org/tiny', 'model', 15000, ['d']]);
  assert.deepEqual(repo.revisions.map((r: { refs: string[]; size: number; files: number }) => [r.refs, r.size, r.files]), [[['main'], 3000, 2], [[], 6000, 2]]);
  const text = clipmed('cache', 'ls');
  assert.match(text.stdout, new RegExp(`graph +${graph} .* open_clip, checkpoint sha256 23ead7b67fac`));
  assert.match(text.stdout, /org\/tiny +model +15\.0 kB +2 +main/);

  // prune: a dry run removes nothing; then the leftovers, the detached revision with the blob only it used,
  // and the orphan blob go; the graph in use and everything main needs stay
  const dry = JSON.parse(clipmed('cache', 'prune', '--dry-run', '--json').stdout);
  assert.equal(dry.dryRun, true);
  assert.ok(existsSync(join(cache, 'graphs/0000old')) && existsSync(join(hub, 'models--org--tiny/blobs/d')));
  const pruned = clipmed('cache', 'prune', '--json');
  assert.equal(pruned.code, 0, pruned.stderr);
  const removed = JSON.parse(pruned.stdout);
  assert.deepEqual(removed.removed, dry.removed);
  const names = removed.removed.map((r: { path: string }) => r.path.replace(cache, 'C').replace(hub, 'H')).sort();
  assert.deepEqual(names, [
    'C/graphs/0000half', 'C/graphs/0000old', 'C/hashes.json.77.1.tmp',
    'H/models--org--tiny/blobs/c', 'H/models--org--tiny/blobs/d', `H/models--org--tiny/snapshots/${'2'.repeat(40)}`,
  ]);
  assert.equal(removed.freed, 300 + byKey['0000old'].size + 1 + 4000 + 8000);
  assert.deepEqual(readdirSync(join(cache, 'graphs')), [graph]);
  assert.deepEqual(readdirSync(join(hub, 'models--org--tiny/blobs')).sort(), ['a', 'b']);
  assert.equal(clipmed('classify', '--model', model, '--labels', 'a,b', join(FIXTURES, '../../data/pneumonia-cxr/test/NORMAL/IM-0023-0001.jpeg')).code, 0);

  // rm: an unknown name removes nothing; a revision by its ref; a graph by a prefix of its key
  const bad = clipmed('cache', 'rm', 'org/tiny@main', 'nothing-like-this');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /ConfigError: 'nothing-like-this': no such graph, corpus or hub repository in the caches/);
  assert.ok(existsSync(join(hub, 'models--org--tiny/blobs/a')));
  const rev = clipmed('cache', 'rm', 'hf-hub:org/tiny@main', graph!.slice(0, 8));
  assert.equal(rev.code, 0, rev.stderr);
  assert.match(rev.stdout, /removed .*snapshots\/1{40} \(0 B, org\/tiny@111111111111\)/);
  assert.match(rev.stdout, /freed /);
  assert.deepEqual(readdirSync(join(hub, 'models--org--tiny/blobs')), []);
  assert.deepEqual(readdirSync(join(hub, 'models--org--tiny/refs')), []);
  assert.deepEqual(readdirSync(join(cache, 'graphs')), []);
});

test('cache prune --max-size keeps the most recently used graphs under the size', () => {
  const cache = tempDir('clipmed-cache-');
  const clipmed = cli({ CLIPMED_CACHE: cache, HF_HUB_CACHE: tempDir('clipmed-hub-') });
  assert.equal(clipmed('info', '--model', model).code, 0);
  assert.equal(clipmed('info', '--model', join(FIXTURES, 'tiny-gelu-safetensors')).code, 0);
  assert.equal(readdirSync(join(cache, 'graphs')).length, 2);
  const keep = JSON.parse(clipmed('cache', 'prune', '--max-size', '1GB', '--json').stdout);
  assert.deepEqual(keep.removed, []);
  const r = JSON.parse(clipmed('cache', 'prune', '--max-size', '1kB', '--cache', 'clipmed', '--json').stdout);
  assert.equal(r.removed.length, 2);
  assert.match(r.removed[0].reason, /least recently used, the cache is over 1\.0 kB/);
  const bad = clipmed('cache', 'prune', '--max-size', 'lots');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-size 'lots': expected a size such as 500MB or 2GB/);
});
