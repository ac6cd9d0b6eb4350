// BioViL's and MedCLIP's published preprocessing against hi-ml's own transforms and MedCLIP's feature extractor
// re-run with Pillow and torchvision (test/fixtures/image/make_survey_protocols.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImageFile, getProtocol, runProtocol, ConfigError } from '../../src/index.ts';
import { DATA } from '../helpers/reference.ts';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/image/survey_protocols.json', import.meta.url), 'utf8')) as {
  images: Array<{
    image: string;
    biovil: { shape: number[]; sha256_u8: string; sum: number };
    medclip: { shape: number[]; sum: number; stride: number; sample: number[] };
  }>;
};

for (const ref of fixture.images) {
  test(`BioViL protocol on ${ref.image}: the [3, 480, 480] tensor equal to hi-ml's to the bit`, async () => {
    const out = runProtocol(await decodeImageFile(join(DATA, ref.image)), getProtocol('biovil'));
    assert.equal(out.length, 3 * 480 * 480);
    const u8 = Uint8Array.from(out, (v) => Math.round(v * 255));
    assert.equal(createHash('sha256').update(u8).digest('hex'), ref.biovil.sha256_u8);
    const sum = out.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - ref.biovil.sum) < 1e-3, `sum ${sum} vs ${ref.biovil.sum}`);
  });

  test(`MedCLIP protocol on ${ref.image}: one grey channel normalised, repeated, within 1e-4`, async () => {
    const out = runProtocol(await decodeImageFile(join(DATA, ref.image)), getProtocol('medclip'));
    assert.equal(out.length, 3 * 224 * 224);
    let worst = 0;
    ref.medclip.sample.forEach((v, k) => { worst = Math.max(worst, Math.abs(out[k * ref.medclip.stride]! - v)); });
    assert.ok(worst < 1e-4, `max difference ${worst}`);
    const sum = out.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - ref.medclip.sum) < 1e-4 * out.length, `sum ${sum} vs ${ref.medclip.sum}`);
  });
}

test('a centre crop larger than the image is an error, not a silent pad', () => {
  const raster = { width: 100, height: 80, channels: 1 as const, data: new Uint8Array(8000) };
  assert.throws(() => runProtocol(raster, [{ op: 'center-crop', size: 90 }, { op: 'repeat-channels', channels: 3 }]), (e: unknown) => e instanceof ConfigError && /100x80/.test((e as Error).message));
});
