import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ShapeError } from '../../src/errors.ts';
import {
  accuracy, aurocWithCI, balancedAccuracy, confusionMatrix, firstRelevantRanks, macroF1, matthewsCorrcoef, percentile, recallAtK, rocAuc, rocCurve,
} from '../../src/eval/metrics.ts';
import { gaussian, mulberry32 } from '../../src/eval/prng.ts';

const ref = JSON.parse(readFileSync(new URL('../fixtures/tasks/reference.json', import.meta.url), 'utf8'));
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('AUROC and ROC curves agree with scikit-learn (ties included)', () => {
  for (const c of ref.auroc) {
    close(rocAuc(c.scores, c.labels), c.auroc, 1e-12, 'auroc');
    const roc = rocCurve(c.scores, c.labels);
    assert.equal(roc.fpr.length, c.fpr.length);
    roc.fpr.forEach((v, i) => close(v, c.fpr[i], 1e-12, `fpr[${i}]`));
    roc.tpr.forEach((v, i) => close(v, c.tpr[i], 1e-12, `tpr[${i}]`));
    assert.equal(roc.thresholds[0], Infinity);
    roc.thresholds.slice(1).forEach((v, i) => close(v, c.thresholds_tail[i], 1e-6, `threshold[${i + 1}]`));
    const all = rocCurve(c.scores, c.labels, { dropIntermediate: false });
    assert.deepEqual(all.fpr.length, c.fpr_all.length);
    all.tpr.forEach((v, i) => close(v, c.tpr_all[i], 1e-12, `tpr_all[${i}]`));
  }
});

test('AUROC refuses one class and NaN scores', () => {
  assert.throws(() => rocAuc([0.1, 0.2], [1, 1]), ShapeError);
  assert.throws(() => rocAuc([0.1, NaN], [0, 1]), ShapeError);
  assert.throws(() => rocAuc([0.1, 0.2], [0, 2]), ShapeError);
  assert.throws(() => rocAuc([0.1], [0, 1]), ShapeError);
});

test('classification metrics agree with scikit-learn', () => {
  for (const c of ref.classification) {
    close(accuracy(c.y_true, c.y_pred), c.accuracy, 1e-12, 'accuracy');
    close(balancedAccuracy(c.y_true, c.y_pred), c.balanced_accuracy, 1e-12, 'balanced accuracy');
    close(macroF1(c.y_true, c.y_pred), c.f1_macro, 1e-12, 'macro F1');
    close(matthewsCorrcoef(c.y_true, c.y_pred), c.mcc, 1e-12, 'MCC');
    assert.deepEqual(confusionMatrix(c.y_true, c.y_pred, c.confusion.length), c.confusion);
  }
  assert.throws(() => accuracy([0, 1], [0]), ShapeError);
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 2), ShapeError);
});

test('recall@K and ranks agree with the NumPy reference (several relevant items per query)', () => {
  const r = ref.retrieval;
  const sim = r.sim.map((row: number[]) => Float32Array.from(row));
  assert.deepEqual(firstRelevantRanks(sim, r.relevant), r.ranks);
  for (const k of [1, 5, 10]) close(recallAtK(sim, r.relevant, k), r.recall[String(k)], 1e-12, `R@${k}`);
  assert.throws(() => recallAtK(sim, r.relevant.slice(1), 1), ShapeError);
  assert.throws(() => recallAtK([[1, 2]], [[]], 1), ShapeError);
});

test('percentile interpolates linearly as NumPy', () => {
  const p = ref.percentile;
  p.q.forEach((q: number, i: number) => close(percentile(p.values, q), p.result[i], 1e-12, `p${q}`));
});

test('bootstrap CI: brackets the point estimate, is seed-reproducible, skips one-class resamples', () => {
  const rng = mulberry32(7);
  const n = 120;
  const labels: number[][] = [];
  const scores: number[][] = [];
  for (let i = 0; i < n; i++) {
    const y = [i % 2, i % 3 === 0 ? 1 : 0];
    labels.push(y);
    scores.push(y.map((v) => v * 1.2 + gaussian(rng)));
  }
  const a = aurocWithCI(scores, labels, ['a', 'b'], { seed: 3 });
  const b = aurocWithCI(scores, labels, ['a', 'b'], { seed: 3 });
  assert.deepEqual(a, b);
  assert.equal(a.resamples, 1000);
  for (const c of [...a.perClass, a.macro]) {
    assert.ok(c.lo < c.auroc && c.auroc < c.hi, `${c.lo} < ${c.auroc} < ${c.hi}`);
    assert.ok(c.hi - c.lo > 0.05 && c.hi - c.lo < 0.4, `width ${c.hi - c.lo}`);
  }
  close(a.perClass[0]!.auroc, rocAuc(scores.map((s) => s[0]!), labels.map((l) => l[0]!)), 1e-12, 'point');
  close(a.macro.auroc, (a.perClass[0]!.auroc + a.perClass[1]!.auroc) / 2, 1e-12, 'macro');
  // 3 positives in 40: some resamples have no positive and are skipped
  const s2 = Array.from({ length: 40 }, (_, i) => [i < 3 ? 1 + gaussian(rng) : gaussian(rng)]);
  const l2 = Array.from({ length: 40 }, (_, i) => [i < 3 ? 1 : 0]);
  const c2 = aurocWithCI(s2, l2, ['rare'], { seed: 1 });
  assert.ok(c2.skipped > 0 && c2.skipped < 200, `skipped ${c2.skipped}`);
  assert.throws(() => aurocWithCI([[0.1], [0.2]], [[1], [1]], ['x']), ShapeError);
});
