import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, ShapeError } from '../../src/errors.ts';
import { calibrateConformal, conformalQuantile, conformalScores, predictionSets, setCoverage, type ConformalMethod } from '../../src/tasks/conformal.ts';
import { gaussian, mulberry32 } from '../../src/eval/prng.ts';

/** Synthetic 5-class problem: noisy, miscalibrated softmax probabilities with a fixed seed. */
function synthetic(n: number, seed: number): { probs: number[][]; labels: number[] } {
  const rng = mulberry32(seed);
  const probs: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = Math.floor(rng() * 5);
    const z = Array.from({ length: 5 }, (_, k) => 1.5 * gaussian(rng) + (k === y ? 2.5 : 0));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    probs.push(e.map((v) => v / s));
    labels.push(y);
  }
  return { probs, labels };
}

test('quantile is the ceil((n+1)(1-alpha))-th smallest score', () => {
  assert.equal(conformalQuantile([0.4, 0.1, 0.3, 0.2], 0.5), 0.3);
  assert.equal(conformalQuantile([0.4, 0.1, 0.3, 0.2], 0.1), Infinity);
  const s = Array.from({ length: 99 }, (_, i) => i + 1);
  assert.equal(conformalQuantile(s, 0.1), 90);
  assert.throws(() => conformalQuantile(s, 1), ConfigError);
});

test('LAC and APS scores on a hand example', () => {
  const p = [[0.5, 0.3, 0.2]];
  assert.ok(Math.abs(conformalScores(p, [1], 'lac')[0]! - 0.7) < 1e-6);
  assert.ok(Math.abs(conformalScores(p, [2], 'aps')[0]! - 1) < 1e-6);
  const r = conformalScores(p, [1], 'aps-randomized', () => 0.5)[0]!;
  assert.ok(Math.abs(r - 0.65) < 1e-6);
});

// Bound: conditional on the calibration set, split-conformal coverage is Beta(k, n + 1 - k) with
// k = ceil((n+1)(1-alpha)), sd ~ sqrt(alpha(1-alpha)/n_cal) = 0.0095 for n_cal = 1000; the 4000 test points
// add sd sqrt(0.09/4000) = 0.0047; together ~0.0106. We accept 1 - alpha +/- 0.032 (3 sd). With these seeds
// coverage is 0.891 (LAC), 0.8975 (APS), 0.899 (randomised APS); mean set sizes 1.80, 2.53, 2.04.
test('split conformal sets reach nominal coverage on a held-out split (alpha 0.1, fixed seed)', () => {
  const cal = synthetic(1000, 11);
  const tst = synthetic(4000, 12);
  const alpha = 0.1;
  const sizes: Record<string, number> = {};
  for (const method of ['lac', 'aps', 'aps-randomized'] as ConformalMethod[]) {
    const c = calibrateConformal(cal.probs, cal.labels, { method, alpha, seed: 5 });
    const { coverage, meanSize } = setCoverage(predictionSets(tst.probs, c, 6), tst.labels);
    assert.ok(Math.abs(coverage - (1 - alpha)) <= 0.032, `${method}: coverage ${coverage}`);
    assert.ok(meanSize > 1 && meanSize < 5, `${method}: mean size ${meanSize}`);
    sizes[method] = meanSize;
  }
  // LAC gives the smallest sets on average (Sadinle et al.)
  assert.ok(sizes.lac! <= sizes.aps!, JSON.stringify(sizes));
});

test('conformal refuses a one-class calibration set, bad probabilities and labels', () => {
  assert.throws(() => calibrateConformal([[0.9, 0.1], [0.8, 0.2]], [0, 0], { method: 'lac', alpha: 0.1 }), ConfigError);
  assert.throws(() => calibrateConformal([[0.9, 0.5], [0.2, 0.8]], [0, 1], { method: 'lac', alpha: 0.1 }), ShapeError);
  assert.throws(() => calibrateConformal([[0.9, 0.1], [0.2, 0.8]], [0, 2], { method: 'lac', alpha: 0.1 }), ShapeError);
  assert.throws(() => calibrateConformal([[NaN, 0.1], [0.2, 0.8]], [0, 1], { method: 'aps', alpha: 0.1 }), ShapeError);
  assert.throws(() => setCoverage([[0]], [0, 1]), ShapeError);
});
