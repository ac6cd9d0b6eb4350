// clipmed classify SERIES_DIR --slices middle|all|N --pool mean|max: slices chosen along the sorted volume,
// each scored as computed here, pooled into one study-level answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chooseSlices, ClipModel, readSeriesVolume, toDisplayRaster, volumeSlice } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { FIXTURES, isolateCache } from '../helpers/reference.ts';

const clipmed = cli({ CLIPMED_CACHE: isolateCache() });
const model = join(FIXTURES, 'tiny-quickgelu');
const SERIES = new URL('../fixtures/series/anatomical', import.meta.url).pathname;
const T = 'an MRI of the {}';

test('chooseSlices: middle, all, N spread evenly', () => {
  assert.deepEqual(chooseSlices(25, 'middle'), [12]);
  assert.deepEqual(chooseSlices(25, '5'), [2, 7, 12, 17, 22]);
  assert.deepEqual(chooseSlices(3, 'all'), [0, 1, 2]);
  assert.deepEqual(chooseSlices(3, '10'), [0, 1, 2]);
  assert.throws(() => chooseSlices(3, 'some'), /middle, all or a positive integer/);
});

test('classify SERIES --slices 5 --pool mean|max: per-slice logits as computed directly, pooled, then softmax', async () => {
  const outs = ['mean', 'max'].map((pool) => {
    const r = clipmed('classify', '--model', model, '--labels', 'brain,liver', '-T', T, SERIES, '--slices', '5', '--pool', pool, '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  });
  const vol = await readSeriesVolume(SERIES);
  const m = await ClipModel.load(model, { threads: 1 });
  const txt = await m.embedTexts(['brain', 'liver'].map((l) => T.replace('{}', l)), { normalize: true });
  const scale = m.meta.score.logitScale;
  const direct: number[][] = [];
  for (const k of [2, 7, 12, 17, 22]) {
    const e = await m.embedRasters([toDisplayRaster(volumeSlice(vol, k))], { normalize: true });
    direct.push([0, 1].map((j) => scale * e.embeddings.reduce((s, v, d) => s + v * txt.embeddings[j * txt.dim + d]!, 0)));
  }
  await m.release();
  for (const out of outs) {
    assert.deepEqual(out.slices.map((s: { slice: number }) => s.slice), [2, 7, 12, 17, 22]);
    out.slices.forEach((s: { logits: number[] }, i: number) => s.logits.forEach((v, j) => assert.ok(Math.abs(v - direct[i]![j]!) < 1e-4, `${v} vs ${direct[i]![j]}`)));
    const pooled = [0, 1].map((j) => (out.pool === 'max' ? Math.max(...direct.map((d) => d[j]!)) : direct.reduce((t, d) => t + d[j]!, 0) / 5));
    const p0 = 1 / (1 + Math.exp(pooled[1]! - pooled[0]!));
    assert.ok(Math.abs(out.scores.brain - p0) < 1e-4, `${out.pool}: ${out.scores.brain} vs ${p0}`);
  }
  const middle = JSON.parse(clipmed('classify', '--model', model, '--labels', 'brain,liver', '-T', T, SERIES, '--slices', 'middle', '--json').stdout);
  assert.deepEqual(middle.slices.map((s: { slice: number }) => s.slice), [12]);
  const bad = clipmed('classify', '--model', model, '--labels', 'a,b', SERIES, '--slices', '5', '--pool', 'median');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--pool must be mean or max/);
});

test('embed --image SERIES --slices 3 --pool mean|max: one embedding pooled from the slices embedded directly', async () => {
  const vol = await readSeriesVolume(SERIES);
  const m = await ClipModel.load(model, { threads: 1 });
  const e = await m.embedRasters([4, 12, 20].map((k) => toDisplayRaster(volumeSlice(vol, k))), { normalize: true });
  await m.release();
  const D = e.dim;
  for (const pool of ['mean', 'max']) {
    const r = clipmed('embed', '--model', model, '--image', SERIES, '--slices', '3', '--pool', pool, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.images.length, 1);
    assert.deepEqual(out.images[0].slices, [4, 12, 20]);
    out.images[0].embedding.forEach((v: number, d: number) => {
      const col = [0, 1, 2].map((i) => e.embeddings[i * D + d]!);
      const want = pool === 'max' ? Math.max(...col) : col.reduce((s, x) => s + x, 0) / 3;
      assert.ok(Math.abs(v - want) < 1e-4, `${pool} dim ${d}: ${v} vs ${want}`);
    });
  }
});
