// The clipmed command as a user runs it: embed, tokenize, info on a fixture model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { FIXTURES, loadReference, maxRelError, minCosine, referenceImages, tempDir } from '../helpers/reference.ts';

const cache = tempDir('clipmed-cli-cache-');
const model = join(FIXTURES, 'tiny-gelu-safetensors');
const ref = loadReference('tiny-gelu-safetensors');

const clipmed = cli({ CLIPMED_CACHE: cache });

test('embed --json gives open_clip features for images and texts', () => {
  const images = referenceImages(ref);
  const r = clipmed('embed', '--model', model, ...images.flatMap((p) => ['--image', p]), ...ref.texts.flatMap((t) => ['--text', t]), '--json', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.model, 'tiny-gelu-safetensors');
  assert.deepEqual(out.images.map((i: { path: string }) => i.path), images);
  assert.ok(minCosine(out.images.flatMap((i: { embedding: number[] }) => i.embedding), ref.image_features.flat(), 32) >= 0.9999);
  assert.deepEqual(out.texts.map((t: { tokens: number[] }) => t.tokens), ref.tokens);
  assert.ok(maxRelError(out.texts.flatMap((t: { embedding: number[] }) => t.embedding), ref.text_features.flat(), 32) < 1e-4);
});

test('embed --pixel-values skips preprocessing; --normalize gives unit vectors', () => {
  const dir = tempDir();
  const npy = join(dir, 'pixels.npy');
  writeFileSync(npy, writeNpy(Float32Array.from(ref.pixel_values), ref.pixel_values_shape));
  const r = clipmed('embed', '--model', model, '--pixel-values', npy, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.images.length, 3);
  assert.ok(maxRelError(out.images.flatMap((i: { embedding: number[] }) => i.embedding), ref.image_features.flat(), 32) < 1e-4);
  const n = clipmed('embed', '--model', model, '--pixel-values', npy, '--normalize', '--json');
  const e = JSON.parse(n.stdout).images[0].embedding as number[];
  assert.ok(Math.abs(Math.hypot(...e) - 1) < 1e-5);
});

test('a bad image in a batch is reported, the rest is embedded, the exit code is non-zero', () => {
  const dir = tempDir();
  const bad = join(dir, 'broken.jpeg');
  writeFileSync(bad, Buffer.from('not a jpeg at all'));
  const good = referenceImages(ref)[0]!;
  const r = clipmed('embed', '--model', model, '--image', good, '--image', bad, '--json');
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(out.images.length, 1);
  assert.equal(out.failures.length, 1);
  assert.equal(out.failures[0].input, bad);
  assert.match(r.stderr, /broken\.jpeg/);
});

test('a missing model is a clear error', () => {
  const r = clipmed('embed', '--model', '/nonexistent/model', '--text', 'x');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ConfigError: \/nonexistent\/model: model source not found/);
});

test('tokenize --json gives open_clip token ids', () => {
  const r = clipmed('tokenize', '--model', model, ...ref.texts.flatMap((t) => ['--text', t]), '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).map((x: { tokens: number[] }) => x.tokens), ref.tokens);
});

test('info shows architecture, parameters, preprocessing and the graph cache', () => {
  const r = clipmed('info', '--model', model, '--json');
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.embedDim, 32);
  assert.equal(info.family, 'open_clip');
  assert.equal(info.architecture.act, 'gelu');
  assert.equal(info.preprocess.resizeMode, 'shortest');
  assert.ok(info.graphCache.startsWith(cache));
  assert.ok(info.parameters.total > 1_000_000);
  const text = clipmed('info', '--model', model);
  assert.match(text.stdout, /vision\s+ViT 64px, patch 16, width 64, 2 layers, 2 heads/);
});

test('embed --image takes DICOM through its window: the same as embedding the windowed raster', async () => {
  const { ClipModel, decodeDicom, toDisplayRaster, WINDOW_PRESETS } = await import('../../src/index.ts');
  const { readFileSync } = await import('node:fs');
  const { DATA } = await import('../helpers/reference.ts');
  const dcm = join(DATA, 'dicom/pydicom-test-files/CT_small.dcm');
  const r = clipmed('embed', '--model', model, '--image', dcm, '--window', 'lung', '--json');
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout).images[0].embedding as number[];
  process.env.CLIPMED_CACHE = cache;
  const m = await ClipModel.load(model, { threads: 1 });
  const raster = toDisplayRaster(await decodeDicom(readFileSync(dcm), { source: dcm }), 0, WINDOW_PRESETS.lung);
  const want = await m.embedRasters([raster]);
  assert.ok(maxRelError(got, want.embeddings, 32) < 1e-6);
  await m.release();
});
