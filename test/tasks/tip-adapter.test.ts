import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, ShapeError } from '../../src/errors.ts';
import { buildTipAdapter, searchTipAdapter, TipAdapter } from '../../src/tasks/tip-adapter.ts';
import { gaussian, mulberry32 } from '../../src/eval/prng.ts';

test('Tip-Adapter logits are alpha * exp(-beta(1 - f·K)) V + zero-shot logits', () => {
  const ad = buildTipAdapter([[2, 0], [0, 3], [1, 1]], [0, 1, 1], ['a', 'b'], { alpha: 2, beta: 3 });
  const z = ad.logits([[1, 0]], [[0.5, -0.5]]);
  const c = Math.SQRT1_2;
  assert.ok(Math.abs(z.data[0]! - (0.5 + 2 * 1)) < 1e-6);
  assert.ok(Math.abs(z.data[1]! - (-0.5 + 2 * (Math.exp(-3) + Math.exp(-3 * (1 - c))))) < 1e-6);
  assert.throws(() => ad.logits([[1, 0]], [[0, 0, 0]]), ShapeError);
  assert.throws(() => ad.logits([[1, 0], [0, 1]], [[0, 0]]), ShapeError);
  assert.throws(() => buildTipAdapter([[1, 0]], [2], ['a', 'b']), ShapeError);
  assert.throws(() => buildTipAdapter([[1, 0]], [0], ['a', 'b'], { beta: -1 }), ConfigError);
});

test('Tip-Adapter round-trips through JSON; the search improves on zero-shot on a synthetic task', () => {
  const rng = mulberry32(9);
  const d = 8;
  const centers = [0, 1, 2].map(() => Array.from({ length: d }, () => gaussian(rng)));
  const sample = (c: number) => centers[c]!.map((v) => v + 0.7 * gaussian(rng));
  const shots = [0, 1, 2].flatMap((c) => [0, 1, 2, 3].map(() => ({ x: sample(c), y: c })));
  const val = Array.from({ length: 90 }, (_, i) => ({ x: sample(i % 3), y: i % 3 }));
  // a weak zero-shot: logits that only know class 0 a little
  const zs = val.map((v) => [v.x[0]! * 0.1, 0, 0]);
  const ad = buildTipAdapter(shots.map((s) => s.x), shots.map((s) => s.y), ['a', 'b', 'c']);
  const tuned = searchTipAdapter(ad, val.map((v) => v.x), zs, val.map((v) => v.y));
  const zsAcc = zs.filter((z, i) => z.indexOf(Math.max(...z)) === val[i]!.y).length / val.length;
  assert.ok(tuned.accuracy > zsAcc + 0.2, `tuned ${tuned.accuracy} vs zero-shot ${zsAcc}`);
  const back = TipAdapter.fromJSON(JSON.parse(JSON.stringify(tuned.adapter)));
  assert.equal(back.alpha, tuned.alpha);
  assert.deepEqual(Array.from(back.logits(val.slice(0, 3).map((v) => v.x), zs.slice(0, 3)).data), Array.from(tuned.adapter.logits(val.slice(0, 3).map((v) => v.x), zs.slice(0, 3)).data));
  assert.throws(() => TipAdapter.fromJSON({ kind: 'linear-probe', version: 1 }), ConfigError);
});
