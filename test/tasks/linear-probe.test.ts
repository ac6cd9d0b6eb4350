import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, ShapeError } from '../../src/errors.ts';
import { fitLinearProbe, fitLinearProbeCV, LinearProbe, logGrid } from '../../src/tasks/linear-probe.ts';
import { minimizeLbfgs } from '../../src/tasks/lbfgs.ts';

const ref = JSON.parse(readFileSync(new URL('../fixtures/tasks/reference.json', import.meta.url), 'utf8')).logreg;

test('L-BFGS minimises the Rosenbrock function', () => {
  const r = minimizeLbfgs((x, g) => {
    const [a, b] = [x[0]!, x[1]!];
    g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
    g[1] = 200 * (b - a * a);
    return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
  }, Float64Array.of(-1.2, 1));
  assert.ok(r.converged);
  assert.ok(Math.abs(r.x[0]! - 1) < 1e-5 && Math.abs(r.x[1]! - 1) < 1e-5, `${r.x}`);
});

test('logistic regression probabilities match scikit-learn LogisticRegression(C) within 1e-3', () => {
  for (const set of ref) {
    const k = Math.max(...set.y) + 1;
    const classes = Array.from({ length: k }, (_, i) => `c${i}`);
    for (const c of set.cases) {
      const m = fitLinearProbe(set.X, set.y, classes, { C: c.C });
      const p = m.predictProba(set.X_test);
      let worst = 0;
      c.probs.forEach((row: number[], i: number) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - p.data[i * k + j]!)))));
      assert.ok(worst < 1e-3, `K=${k} C=${c.C}: max |p - sklearn| = ${worst}`);
    }
  }
});

test('linear probe round-trips through JSON and predicts the same', () => {
  const set = ref[0];
  const m = fitLinearProbe(set.X, set.y, ['a', 'b', 'c'], { C: 1 });
  const back = LinearProbe.fromJSON(JSON.parse(JSON.stringify(m)));
  assert.deepEqual(back.classes, ['a', 'b', 'c']);
  assert.deepEqual(Array.from(back.predictProba(set.X_test).data), Array.from(m.predictProba(set.X_test).data));
  assert.throws(() => LinearProbe.fromJSON({ kind: 'tip-adapter' }), ConfigError);
  assert.throws(() => LinearProbe.fromJSON({ ...m.toJSON(), bias: [0] }), ShapeError);
});

test('C is chosen on the validation split from a log grid', () => {
  const set = ref[0];
  const train = set.X.slice(0, 45);
  const val = set.X.slice(45);
  const r = fitLinearProbeCV(train, set.y.slice(0, 45), val, set.y.slice(45), ['a', 'b', 'c'], { grid: logGrid(-3, 2, 6) });
  assert.equal(r.scores.length, 6);
  const best = Math.max(...r.scores.map((s) => s.accuracy));
  assert.equal(r.scores.find((s) => s.C === r.C)!.accuracy, best);
  assert.ok(best > 0.6, `validation accuracy ${best}`);
  assert.equal(r.model.C, r.C);
});

test('linear probe refuses missing classes, bad labels and bad C', () => {
  assert.throws(() => fitLinearProbe([[0], [1]], [0, 0], ['a', 'b'], { C: 1 }), ShapeError);
  assert.throws(() => fitLinearProbe([[0], [1]], [0, 2], ['a', 'b'], { C: 1 }), ShapeError);
  assert.throws(() => fitLinearProbe([[0], [1]], [0, 1], ['a', 'b'], { C: 0 }), ConfigError);
  assert.throws(() => fitLinearProbe([[0], [NaN]], [0, 1], ['a', 'b'], { C: 1 }), ShapeError);
});
