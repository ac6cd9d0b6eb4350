import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ITEM_SIZE, decodeElements, decodePortable, floatToHalf, halfToFloat } from '../../src/checkpoint/dtype.ts';
import type { DType } from '../../src/checkpoint/types.ts';

test('halfToFloat and floatToHalf agree on every non-NaN half', () => {
  let checked = 0;
  for (let h = 0; h < 65536; h++) {
    const v = halfToFloat(h);
    if (Number.isNaN(v)) continue;
    assert.equal(floatToHalf(v), h, `0x${h.toString(16)}`);
    checked++;
  }
  assert.equal(checked, 65536 - 2 * 1023);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
  assert.equal(halfToFloat(0xfc00), -Infinity);
});

test('floatToHalf rounds to nearest even, overflows to infinity and underflows to zero', () => {
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // halfway: stays even
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02); // halfway: rounds up to even
  assert.equal(floatToHalf(65520), 0x7c00);
  assert.equal(floatToHalf(2 ** -26), 0);
  assert.equal(floatToHalf(3 * 2 ** -26), 0x0001);
  assert.equal(floatToHalf(NaN) & 0x7e00, 0x7e00);
});

test('the fast little-endian path equals the portable DataView decoder for every dtype', () => {
  const bytes = new Uint8Array(8 * 37 + 3).map((_, i) => (i * 73 + 11) & 0xff);
  for (const dtype of Object.keys(ITEM_SIZE) as DType[]) {
    const n = 37;
    // misaligned on purpose: views into a zip sit at any offset
    const src = bytes.subarray(3, 3 + n * ITEM_SIZE[dtype]);
    const fast = decodeElements(src, dtype, n);
    const slow = decodePortable(src, dtype, n);
    assert.equal(fast.constructor, slow.constructor, dtype);
    assert.deepEqual(Array.from(fast as ArrayLike<unknown>, (v) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v)), Array.from(slow as ArrayLike<unknown>, (v) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v)), dtype);
  }
});
