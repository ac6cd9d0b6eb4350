// Paths and expected values shared by the checkpoint tests (fixtures made by test/fixtures/checkpoint/make-fixtures.py).
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import type { StateDict, Tensor } from '../../src/checkpoint/types.ts';
import { join } from 'node:path';
import { FIXTURES as OPEN_CLIP } from '../helpers/reference.ts';

export const FIXTURES = new URL('../fixtures/checkpoint/', import.meta.url).pathname;
export const TORCH_BIN = join(OPEN_CLIP, 'tiny-quickgelu/open_clip_pytorch_model.bin');
export const SAFETENSORS = join(OPEN_CLIP, 'tiny-gelu-safetensors/open_clip_model.safetensors');

export interface Summary { count: number; keys: string[]; tensors: Record<string, { shape: number[]; dtype: string; sum: number; abssum: number; first4: number[] }> }
export const SUMMARY = JSON.parse(readFileSync(FIXTURES + 'open-clip-tiny-summary.json', 'utf8')) as { torch: Summary; safetensors: Summary };
export const EXPECTED = JSON.parse(readFileSync(FIXTURES + 'small-expected.json', 'utf8')) as Record<string, Record<string, { shape: number[]; dtype: string; values: number[] }>>;

export const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(FIXTURES + name));

/** Every tensor of `sd` equals the reference exactly (after upcast), in the same key order. */
export function assertExact(sd: StateDict, want: Record<string, { shape: number[]; dtype: string; values: number[] }>): void {
  assert.deepEqual([...sd.keys()], Object.keys(want));
  for (const [k, w] of Object.entries(want)) {
    const t = sd.get(k)!;
    assert.equal(t.dtype, w.dtype, k);
    assert.deepEqual(t.shape, w.shape, k);
    const got = t.data instanceof BigInt64Array ? Array.from(t.data, Number) : Array.from(t.data as ArrayLike<number>);
    assert.deepStrictEqual(got, w.values, k);
  }
}

/** The state dict matches the reference summary: keys in order, shapes, first 4 values exactly, sums closely. */
export function assertSummary(sd: StateDict, s: Summary): void {
  assert.equal(sd.size, s.count);
  assert.deepEqual([...sd.keys()], s.keys);
  for (const [k, w] of Object.entries(s.tensors)) {
    const t: Tensor = sd.get(k)!;
    assert.deepEqual(t.shape, w.shape, k);
    assert.ok(t.data instanceof Float32Array, k);
    assert.deepStrictEqual(Array.from(t.data.subarray(0, 4)), w.first4, k);
    let sum = 0;
    for (const v of t.data) sum += v;
    // float64 sums in a different order differ only by rounding
    assert.ok(Math.abs(sum - w.sum) <= 1e-9 * (w.abssum + 1), `${k}: sum ${sum} vs ${w.sum}`);
  }
}
