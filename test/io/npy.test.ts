import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readNpy, writeNpy, DecodeError, UnsupportedError } from '../../src/index.ts';

test('npy round trip, also from a pooled Buffer view', () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
  const bytes = writeNpy(data, [2, 3, 4]);
  const pooled = Buffer.concat([Buffer.from('xxxx'), Buffer.from(bytes)]).subarray(4);
  const r = readNpy(pooled, 'a.npy');
  assert.equal(r.dtype, '<f4');
  assert.deepEqual(r.shape, [2, 3, 4]);
  assert.deepEqual(Array.from(r.data as Float32Array), Array.from(data));
  // header padded so that the data starts on a 64-byte boundary, as NumPy writes it
  assert.equal((bytes.length - data.byteLength) % 64, 0);
});

test('npy header as NumPy writes it, and bad files', () => {
  // np.save of np.arange(3, dtype=np.int32): header dict, newline-terminated
  const header = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
  const padded = header + ' '.repeat(128 - 10 - header.length - 1) + '\n';
  const bytes = new Uint8Array(128 + 12);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length, 0]);
  bytes.set(new TextEncoder().encode(padded), 10);
  bytes.set(new Uint8Array(Int32Array.of(0, 1, 2).buffer), 128);
  assert.deepEqual(Array.from(readNpy(bytes, 'i.npy').data as Int32Array), [0, 1, 2]);
  assert.throws(() => readNpy(bytes.subarray(0, 134), 'short.npy'), (e: unknown) => e instanceof DecodeError && /short\.npy: data too short/.test((e as Error).message));
  assert.throws(() => readNpy(new Uint8Array(20), 'x.npy'), DecodeError);
  const fortran = new TextEncoder().encode(padded.replace('False', 'True '));
  const f = bytes.slice();
  f.set(fortran, 10);
  assert.throws(() => readNpy(f, 'f.npy'), UnsupportedError);
});
