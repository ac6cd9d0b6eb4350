import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImageFile } from '../../src/node/image-decode.ts';
import { preprocess, preprocessRaster, type PreprocessConfig } from '../../src/image/preprocess.ts';
import { ConfigError, ShapeError } from '../../src/errors.ts';
import { DATA, FIXTURES, FIXTURE_MODELS, loadReference } from '../helpers/reference.ts';

// The shared reference names its images by file name; where they are under shared/data (see its README).
const REFERENCE_IMAGES: Record<string, string> = {
  'IM-0023-0001.jpeg': 'pneumonia-cxr/test/NORMAL/IM-0023-0001.jpeg',
  'person100_bacteria_475.jpeg': 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg',
  'ARDSSevere.jpg': 'covid-cxr-notes/images/ARDSSevere.jpg',
};

function openClipConfig(model: string): PreprocessConfig {
  const cfg = JSON.parse(readFileSync(join(FIXTURES, model, 'open_clip_config.json'), 'utf8'));
  const p = cfg.preprocess_cfg;
  return { size: cfg.model_cfg.vision_cfg.image_size, mean: p.mean, std: p.std, interpolation: p.interpolation, resizeMode: p.resize_mode };
}

test('open_clip reference pixel_values: equal to the grey level on all three images', async () => {
  for (const model of FIXTURE_MODELS) {
    const ref = loadReference(model);
    const cfg = openClipConfig(model);
    const [n, c, h, w] = ref.pixel_values_shape as [number, number, number, number];
    assert.equal(ref.images.length, 3);
    const rasters = await Promise.all(ref.images.map((name) => decodeImageFile(join(DATA, REFERENCE_IMAGES[name]!))));
    const ours = preprocess(rasters, cfg);
    assert.equal(ours.length, n * c * h * w);
    for (let img = 0; img < n; img++) {
      // Undo Normalize to get ToTensor's x / 255 back, and compare in grey levels.
      let worst = 0;
      for (let ch = 0; ch < c; ch++) {
        for (let i = 0; i < h * w; i++) {
          const at = (img * c + ch) * h * w + i;
          const theirs = (ref.pixel_values[at]! * cfg.std[ch]! + cfg.mean[ch]!) * 255;
          const mine = (ours[at]! * cfg.std[ch]! + cfg.mean[ch]!) * 255;
          worst = Math.max(worst, Math.abs(theirs - mine));
        }
      }
      // The brief allows 1 grey level; we are exact (the residue is float32 rounding of normalisation).
      assert.ok(worst < 1e-3, `${model} image ${ref.images[img]}: max difference ${worst} grey levels`);
    }
    // And the normalised floats themselves, as open_clip's tensor holds them.
    let maxAbs = 0;
    for (let i = 0; i < ours.length; i++) maxAbs = Math.max(maxAbs, Math.abs(ours[i]! - ref.pixel_values[i]!));
    assert.ok(maxAbs < 1e-6, `${model}: max |normalised difference| ${maxAbs}`);
  }
});

// Made by test/fixtures/image/make_preprocess_fixture.py with Pillow.
interface PilFixture {
  images: Record<string, { path: string; mode: string; width: number; height: number; sha256: string }>;
  cases: {
    image: string;
    resizeMode: PreprocessConfig['resizeMode'];
    size: number | [number, number];
    interpolation: PreprocessConfig['interpolation'];
    fillColor: number;
    shape: [number, number, number];
    sha256: string;
    step: number;
    sample: number[];
  }[];
}
const pil: PilFixture = JSON.parse(readFileSync(new URL('../fixtures/image/preprocess_pil.json', import.meta.url), 'utf8'));
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('PIL fixture: 72 resize/crop/pad cases are byte-identical to Pillow', async () => {
  assert.equal(pil.cases.length, 72);
  const rasters = new Map<string, Awaited<ReturnType<typeof decodeImageFile>>>();
  for (const [key, info] of Object.entries(pil.images)) {
    const r = await decodeImageFile(join(DATA, info.path));
    // The decoded file itself first: sharp's JPEG decoding must equal PIL's for the rest to mean anything.
    assert.deepEqual([r.width, r.height, r.channels], [info.width, info.height, info.mode === 'L' ? 1 : 3], key);
    assert.equal(sha256(r.data), info.sha256, `${key}: decoded pixels differ from PIL's`);
    rasters.set(key, r);
  }
  // Exact equality: the fixed-point arithmetic is reproduced, so no tolerance is needed.
  for (const c of pil.cases) {
    const label = `${c.image} ${c.resizeMode} ${JSON.stringify(c.size)} ${c.interpolation} fill ${c.fillColor}`;
    const cfg: PreprocessConfig = { size: c.size, mean: [0, 0, 0], std: [1, 1, 1], interpolation: c.interpolation, resizeMode: c.resizeMode, fillColor: c.fillColor };
    const out = preprocessRaster(rasters.get(c.image)!, cfg);
    assert.equal(out.length, c.shape[0] * c.shape[1] * c.shape[2], label);
    const sample = c.sample.map((_, i) => out[i * c.step]!);
    assert.deepEqual(sample, c.sample, label);
    assert.equal(sha256(out), c.sha256, label);
  }
});

test('preprocess lays out [N, 3, H, W] and replicates grey', () => {
  const grey = { width: 3, height: 2, channels: 1 as const, data: Uint8Array.of(0, 51, 102, 153, 204, 255) };
  const cfg: PreprocessConfig = { size: [2, 3], mean: [0.5, 0, 0], std: [0.5, 1, 2], interpolation: 'bilinear', resizeMode: 'squash' };
  const out = preprocess([grey, grey], cfg);
  assert.equal(out.length, 2 * 3 * 6);
  assert.deepEqual([...out.subarray(0, 6)].map((v) => +v.toFixed(5)), [-1, -0.6, -0.2, 0.2, 0.6, 1]);
  assert.deepEqual([...out.subarray(6, 12)].map((v) => +v.toFixed(5)), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual([...out.subarray(12, 18)].map((v) => +v.toFixed(5)), [0, 0.1, 0.2, 0.3, 0.4, 0.5]);
  assert.deepEqual(out.subarray(18), out.subarray(0, 18));
});

test('longest pads with fillColor and centres the image', () => {
  const img = { width: 4, height: 2, channels: 3 as const, data: new Uint8Array(24).fill(200) };
  const out = preprocessRaster(img, { size: 4, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bicubic', resizeMode: 'longest', fillColor: 7 });
  const rows = [0, 1, 2, 3].map((y) => out[y * 12]);
  assert.deepEqual(rows, [7, 200, 200, 7]);
});

test('sizes and offsets round halves to even, as Python round() does', () => {
  const base = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number], interpolation: 'bilinear' as const };
  // Crop offset int(round(0.5)) = 0 keeps the left pixel.
  const pair = { width: 2, height: 1, channels: 1 as const, data: Uint8Array.of(0, 255) };
  assert.deepEqual([...preprocessRaster(pair, { ...base, size: 1, resizeMode: 'shortest' })], [0, 0, 0]);
  // ResizeKeepRatio: 8x5 by ratio 2 gives height round(2.5) = 2, then one padded row above and below.
  const wide = { width: 8, height: 5, channels: 1 as const, data: new Uint8Array(40).fill(200) };
  const out = preprocessRaster(wide, { ...base, size: 4, resizeMode: 'longest', fillColor: 7 });
  assert.deepEqual([0, 1, 2, 3].map((y) => out[y * 12]), [7, 200, 200, 7]);
});

test('bad configurations and rasters are errors', () => {
  const ok = { width: 2, height: 2, channels: 1 as const, data: new Uint8Array(4) };
  const cfg: PreprocessConfig = { size: 2, mean: [0, 0, 0], std: [1, 1, 1], interpolation: 'bicubic', resizeMode: 'shortest' };
  assert.throws(() => preprocess([ok], { ...cfg, size: 0 }), ConfigError);
  assert.throws(() => preprocess([ok], { ...cfg, std: [1, 0, 1] }), ConfigError);
  assert.throws(() => preprocess([ok], { ...cfg, resizeMode: 'crop' as never }), ConfigError);
  assert.throws(() => preprocess([ok], { ...cfg, interpolation: 'lanczos' as never }), ConfigError);
  assert.throws(() => preprocess([ok], { ...cfg, resizeMode: 'longest', fillColor: 300 }), ConfigError);
  assert.throws(() => preprocess([{ ...ok, data: new Uint8Array(3) }], cfg), ShapeError);
});
