import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, ShapeError } from '../../src/errors.ts';
import { applyTemperature, expectedCalibrationError, fitTemperature, reliabilityBins } from '../../src/eval/calibration.ts';

const ref = JSON.parse(readFileSync(new URL('../fixtures/tasks/reference.json', import.meta.url), 'utf8')).calibration;

test('ECE and reliability bins agree with the NumPy reference (15 equal-width bins)', () => {
  const ece = expectedCalibrationError(ref.probs, ref.labels, 15);
  assert.ok(Math.abs(ece - ref.ece15) < 1e-6, `${ece} vs ${ref.ece15}`);
  assert.deepEqual(reliabilityBins(ref.probs, ref.labels, 15).map((b) => b.count), ref.bin_counts15);
});

test('ECE is 0 for a perfectly calibrated toy set and exact on a hand example', () => {
  assert.equal(expectedCalibrationError([[1, 0], [0, 1]], [0, 1]), 0);
  assert.ok(Math.abs(expectedCalibrationError([[0.9, 0.1], [0.4, 0.6]], [0, 0], 2) - 0.25) < 1e-7);
});

test('temperature scaling finds the NLL minimum that SciPy finds', () => {
  const fit = fitTemperature(ref.logits, ref.labels);
  assert.ok(Math.abs(fit.temperature - ref.temperature) < 1e-4, `${fit.temperature} vs ${ref.temperature}`);
  assert.ok(Math.abs(fit.nllBefore - ref.nll_before) < 1e-6);
  assert.ok(Math.abs(fit.nllAfter - ref.nll_after) < 1e-8);
  assert.ok(fit.nllAfter < fit.nllBefore);
  // calibrated probabilities are better calibrated here
  const after = expectedCalibrationError(applyTemperature(ref.logits, fit.temperature), ref.labels);
  assert.ok(after < ref.ece15, `ECE ${after} after vs ${ref.ece15} before`);
});

test('calibration refuses one class, NaN and bad shapes', () => {
  assert.throws(() => fitTemperature([[1, 0], [2, 0]], [0, 0]), ConfigError);
  assert.throws(() => fitTemperature([[1, NaN], [2, 0]], [0, 1]), ShapeError);
  assert.throws(() => fitTemperature([[1, 0], [2, 0]], [0]), ShapeError);
  assert.throws(() => expectedCalibrationError([[0.5, 0.5]], [2]), ShapeError);
  assert.throws(() => applyTemperature([[1, 2]], 0), ConfigError);
});
