import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resize } from '../../src/image/resample.ts';
import { ShapeError } from '../../src/errors.ts';

// Expected values are Pillow 9.4's Image.resize on the same bytes (python3-pil), e.g.
// Image.frombytes('L', (4, 1), bytes([0, 100, 200, 250])).resize((2, 1), Image.BILINEAR) -> [71, 207].
test('matches Pillow on small known cases', () => {
  const row = { width: 4, height: 1, channels: 1 as const, data: Uint8Array.of(0, 100, 200, 250) };
  assert.deepEqual([...resize(row, 2, 1, 'bilinear').data], [71, 207]);
  assert.deepEqual([...resize(row, 2, 1, 'bicubic').data], [61, 218]);
  assert.deepEqual([...resize(row, 7, 1, 'bicubic').data], [0, 26, 92, 153, 205, 239, 254]);
  // Overshoot of the cubic is clipped to 0..255 after the pass.
  const step = { width: 4, height: 1, channels: 1 as const, data: Uint8Array.of(20, 20, 235, 235) };
  assert.deepEqual([...resize(step, 9, 1, 'bicubic').data], [20, 18, 5, 27, 128, 228, 250, 237, 235]);
  const edge = { width: 4, height: 1, channels: 1 as const, data: Uint8Array.of(0, 0, 255, 255) };
  assert.deepEqual([...resize(edge, 9, 1, 'bicubic').data], [0, 0, 0, 8, 128, 247, 255, 255, 255]);
});

test('a constant image stays constant; an unchanged size is a copy', () => {
  const flat = { width: 13, height: 7, channels: 3 as const, data: new Uint8Array(13 * 7 * 3).fill(77) };
  for (const [w, h] of [[5, 3], [40, 2], [13, 20]] as const) {
    for (const f of ['bicubic', 'bilinear'] as const) assert.ok(resize(flat, w, h, f).data.every((v) => v === 77), `${w}x${h} ${f}`);
  }
  const same = resize(flat, 13, 7, 'bicubic');
  assert.deepEqual(same.data, flat.data);
  assert.notEqual(same.data, flat.data);
});

test('channels are filtered independently', () => {
  const grey = { width: 9, height: 5, channels: 1 as const, data: Uint8Array.from({ length: 45 }, (_, i) => (i * 37) % 256) };
  const rgb = { width: 9, height: 5, channels: 3 as const, data: new Uint8Array(135) };
  for (let i = 0; i < 45; i++) rgb.data[3 * i] = rgb.data[3 * i + 1] = rgb.data[3 * i + 2] = grey.data[i]!;
  const g = resize(grey, 4, 11, 'bicubic').data;
  const c = resize(rgb, 4, 11, 'bicubic').data;
  for (let i = 0; i < g.length; i++) assert.deepEqual([c[3 * i], c[3 * i + 1], c[3 * i + 2]], [g[i], g[i], g[i]]);
});

test('bad sizes are ShapeErrors', () => {
  const img = { width: 2, height: 2, channels: 1 as const, data: new Uint8Array(4) };
  assert.throws(() => resize(img, 0, 2, 'bicubic'), ShapeError);
  assert.throws(() => resize(img, 2.5, 2, 'bicubic'), ShapeError);
  assert.throws(() => resize({ ...img, data: new Uint8Array(5) }, 3, 3, 'bicubic'), ShapeError);
});
