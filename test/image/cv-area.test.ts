// OpenCV's INTER_AREA resize (GLoRIA's preprocessing) against cv2 4.6 itself, pixel for pixel
// (test/fixtures/image/cv-area/make_reference.py): enlarging, shrinking by whole and fractional factors, both
// at once, rows narrower than one SIMD vector, and a real chest X-ray.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resizeCvArea } from '../../src/image/cv-area.ts';
import type { Raster } from '../../src/image/types.ts';
import { readNpy } from '../../src/io/npy.ts';

const DIR = new URL('../fixtures/image/cv-area/', import.meta.url).pathname;
const { cases } = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { cases: Array<{ name: string; input: string; crop: [number, number] | null; width: number; height: number }> };
const npy = (name: string) => readNpy(readFileSync(join(DIR, `${name}.npy`)), `${name}.npy`);

test('cv2 INTER_AREA: every case equals cv2.resize exactly', () => {
  assert.equal(cases.length, 10);
  for (const c of cases) {
    const a = npy(c.input);
    const [H, W] = a.shape as [number, number];
    const [h, w] = c.crop ?? [H, W];
    const data = new Uint8Array(h * w);
    for (let y = 0; y < h; y++) data.set((a.data as Uint8Array).subarray(y * W, y * W + w), y * w);
    const got = resizeCvArea({ width: w, height: h, channels: 1, data }, c.width, c.height);
    const want = npy(c.name);
    assert.deepEqual(want.shape, [c.height, c.width], c.name);
    let diff = 0;
    for (let i = 0; i < got.data.length; i++) if (got.data[i] !== (want.data as Uint8Array)[i]) diff++;
    assert.equal(diff, 0, `${c.name}: ${diff} pixels differ from cv2`);
  }
});

test('cv2 INTER_AREA: channels are resized alike; the same size is a copy', () => {
  const grey: Raster = { width: 5, height: 3, channels: 1, data: Uint8Array.from({ length: 15 }, (_, i) => (i * 37) % 256) };
  const rgb: Raster = { width: 5, height: 3, channels: 3, data: Uint8Array.from({ length: 45 }, (_, i) => grey.data[Math.floor(i / 3)]!) };
  const g = resizeCvArea(grey, 8, 7);
  const c = resizeCvArea(rgb, 8, 7);
  assert.deepEqual(Array.from(c.data).filter((_, i) => i % 3 === 1), Array.from(g.data));
  const same = resizeCvArea(grey, 5, 3);
  assert.deepEqual(same.data, grey.data);
  assert.notEqual(same.data, grey.data);
  assert.throws(() => resizeCvArea(grey, 0, 3), /INTER_AREA resize to 0x3/);
});
