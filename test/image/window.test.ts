// VOI windowing against the DICOM PS3.3 C.11.2.1.2 formulas, worked by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyWindow, ConfigError, parseWindow, toBytes, WINDOW_PRESETS } from '../../src/index.ts';

test('LINEAR, LINEAR_EXACT and SIGMOID as PS3.3 C.11.2.1.2 defines them', () => {
  // LINEAR c=40 w=400: x <= c - 0.5 - (w-1)/2 = -160 -> 0; x > c - 0.5 + (w-1)/2 = 239 -> 255;
  // else ((x - 39.5) / 399 + 0.5) * 255
  const lin = applyWindow(Float32Array.of(-1000, -160, 40, 239, 240), { center: 40, width: 400 });
  assert.deepEqual(Array.from(lin).map((v) => +v.toFixed(4)), [0, 0, +(((40 - 39.5) / 399 + 0.5) * 255).toFixed(4), +(((239 - 39.5) / 399 + 0.5) * 255).toFixed(4), 255]);
  const exact = applyWindow(Float32Array.of(-160, 40, 240), { center: 40, width: 400, fn: 'LINEAR_EXACT' });
  assert.deepEqual(Array.from(exact), [0, 127.5, 255]);
  const sig = applyWindow(Float32Array.of(40, 140), { center: 40, width: 400, fn: 'SIGMOID' });
  assert.ok(Math.abs(sig[0]! - 127.5) < 1e-4 && Math.abs(sig[1]! - 255 / (1 + Math.exp(-1))) < 1e-3);
  assert.deepEqual(Array.from(toBytes(Float32Array.of(-3, 127.5, 300))), [0, 128, 255]);
});

test('presets and "center,width"; bad windows are errors', () => {
  assert.deepEqual(parseWindow('lung'), WINDOW_PRESETS.lung);
  assert.deepEqual(parseWindow(' 40, 400 '), { center: 40, width: 400 });
  assert.throws(() => parseWindow('wide'), ConfigError);
  assert.throws(() => applyWindow(Float32Array.of(1), { center: 0, width: 0.5 }), ConfigError);
});
