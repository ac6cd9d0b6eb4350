import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, ShapeError } from '../../src/errors.ts';
import { jet, overlayHeatmap, patchSimilarity, promptHeatmaps, removeSharedComponent, upsampleBilinear } from '../../src/tasks/heatmap.ts';
import { gaussian, mulberry32 } from '../../src/eval/prng.ts';

const ref = JSON.parse(readFileSync(new URL('../fixtures/tasks/reference.json', import.meta.url), 'utf8')).upsample;

test('bilinear upsampling matches F.interpolate(align_corners=False)', () => {
  const m = ref.map.flat();
  const out = upsampleBilinear(m, 3, 4, ref.out_h, ref.out_w);
  const want = ref.result.flat();
  want.forEach((v: number, i: number) => assert.ok(Math.abs(v - out[i]!) < 1e-5, `${i}: ${out[i]} vs ${v}`));
  assert.deepEqual(Array.from(upsampleBilinear([0, 1], 1, 2, 1, 4)), [0, 0.25, 0.75, 1]);
  assert.throws(() => upsampleBilinear([0, 1, 2], 1, 2, 2, 2), ShapeError);
});

test('redundancy removal makes maps differ by prompt where raw maps share a component', () => {
  // 4x4 grid; every patch carries a large shared direction s, plus a prompt-specific blob
  const rng = mulberry32(3);
  const d = 16;
  const s = Array.from({ length: d }, () => gaussian(rng));
  const a = Array.from({ length: d }, (_, i) => (i === 0 ? 1 : 0));
  const b = Array.from({ length: d }, (_, i) => (i === 1 ? 1 : 0));
  const patches = Array.from({ length: 16 }, (_, p) => s.map((v, i) => 5 * v + (p < 4 && i === 0 ? 2 : 0) + (p >= 12 && i === 1 ? 2 : 0) + 0.05 * gaussian(rng)));
  const texts = [a.map((v, i) => v + s[i]!), b.map((v, i) => v + s[i]!)];
  const raw = patchSimilarity(patches, texts, 4, 4);
  const { maps, flat } = promptHeatmaps(patches, texts, 4, 4);
  assert.deepEqual(flat, [false, false]);
  // prompt a peaks in the top row, prompt b in the bottom row
  const rowMean = (m: Float32Array, t: number, r: number) => [0, 1, 2, 3].reduce((acc, c) => acc + m[t * 16 + r * 4 + c]!, 0) / 4;
  assert.ok(rowMean(maps.data, 0, 0) > 0.8 && rowMean(maps.data, 0, 3) < 0.2);
  assert.ok(rowMean(maps.data, 1, 3) > 0.8 && rowMean(maps.data, 1, 0) < 0.2);
  for (const v of maps.data) assert.ok(v >= 0 && v <= 1);
  assert.ok(Math.min(...raw.data) > 0.5, 'raw maps are dominated by the shared component');
  assert.throws(() => removeSharedComponent({ rows: 1, cols: 2, data: Float32Array.of(1, 2) }), ConfigError);
  assert.throws(() => patchSimilarity(patches, texts, 3, 4), ShapeError);
  assert.throws(() => patchSimilarity(patches, [[1, 2]], 4, 4), ShapeError);
});

test('overlay gives RGB bytes with a jet colour map blended on grey', () => {
  assert.deepEqual(jet(0), [0, 0, 128]);
  assert.deepEqual(jet(0.5), [128, 255, 128]);
  assert.deepEqual(jet(1), [128, 0, 0]);
  const rgb = overlayHeatmap(Uint8Array.of(100, 200), Float32Array.of(1, 0), 0.5);
  assert.deepEqual(Array.from(rgb), [114, 50, 50, 100, 100, 164]);
  assert.deepEqual(Array.from(overlayHeatmap(Uint8Array.of(7), [0.3], 0)), [7, 7, 7]);
  assert.throws(() => overlayHeatmap(Uint8Array.of(1, 2), [0.5]), ShapeError);
  assert.throws(() => overlayHeatmap(Uint8Array.of(1), [NaN]), ShapeError);
});
