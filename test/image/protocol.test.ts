// CheXzero's published preprocessing against the original steps re-run with Pillow and PyTorch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImageFile, getProtocol, runProtocol, ConfigError } from '../../src/index.ts';
import { DATA } from '../helpers/reference.ts';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/image/chexzero.json', import.meta.url), 'utf8')) as {
  images: Array<{ image: string; shape: number[]; canvas_sha_u8: string; canvas_sum: number; sum: number; stride: number; sample: number[] }>;
};

for (const ref of fixture.images) {
  test(`CheXzero protocol on ${ref.image}: the 320 canvas exactly, the 224 tensor within 1e-4`, async () => {
    const raster = await decodeImageFile(join(DATA, ref.image));
    const steps = getProtocol('chexzero');
    // the 8-bit 320x320 canvas CheXzero stores in its h5 file (steps up to the channel repeat)
    const canvas = runProtocol(raster, steps.slice(0, 4)).subarray(0, 320 * 320);
    const u8 = Uint8Array.from(canvas);
    assert.equal(createHash('sha256').update(u8).digest('hex'), ref.canvas_sha_u8);
    const out = runProtocol(raster, steps);
    assert.equal(out.length, 3 * 224 * 224);
    let worst = 0;
    ref.sample.forEach((v, k) => { worst = Math.max(worst, Math.abs(out[k * ref.stride]! - v)); });
    assert.ok(worst < 1e-4, `max difference ${worst}`);
    const sum = out.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - ref.sum) < 1e-4 * out.length, `sum ${sum} vs ${ref.sum}`);
  });
}

test('an unknown protocol is an error naming the known ones', () => {
  assert.throws(() => getProtocol('mimic'), (e: unknown) => e instanceof ConfigError && /chexzero/.test((e as Error).message));
});

test('a protocol whose output does not fit the model is a clear error', async () => {
  const { ClipModel } = await import('../../src/index.ts');
  const { FIXTURES, isolateCache } = await import('../helpers/reference.ts');
  isolateCache();
  const m = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { protocol: 'chexzero', threads: 1 });
  const raster = await decodeImageFile(join(DATA, fixture.images[0]!.image));
  await assert.rejects(m.embedRasters([raster]), /protocol 'chexzero' makes 224x224 images but tiny-quickgelu takes 64x64/);
  await assert.rejects(ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { protocol: 'nope' }), ConfigError);
});
