// mapLimit keeps at most `limit` calls in flight, keeps the order, and stops starting calls after an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { mapLimit } from '../../src/node/map-limit.ts';

test('at most `limit` calls run at once, results in input order', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit(Array.from({ length: 500 }, (_, i) => i), 4, async (x) => {
    running++;
    peak = Math.max(peak, running);
    for (let k = 0; k < (x % 3) + 1; k++) await tick();
    running--;
    return x * 2;
  });
  assert.equal(peak, 4);
  assert.deepEqual(out, Array.from({ length: 500 }, (_, i) => i * 2));
});

test('the first error rejects and no further call starts', async () => {
  const started: number[] = [];
  await assert.rejects(mapLimit([0, 1, 2, 3, 4, 5, 6, 7], 2, async (x) => {
    started.push(x);
    await tick();
    if (x === 1) throw new Error('bad 1');
    return x;
  }), /bad 1/);
  assert.ok(started.length <= 3, `started ${started}`);
  assert.deepEqual(await mapLimit([], 3, async (x: number) => x), []);
});
