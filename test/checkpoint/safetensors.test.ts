import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../../src/checkpoint/safetensors.ts';
import { DecodeError, LimitError, UnsupportedError } from '../../src/errors.ts';
import type { StateDict } from '../../src/checkpoint/types.ts';
import { EXPECTED, SAFETENSORS, SUMMARY, assertExact, assertSummary, fixture } from './fixtures.ts';

test('reads the open_clip tiny safetensors fixture like torch', () => {
  const sd = readSafetensors(new Uint8Array(readFileSync(SAFETENSORS)), SAFETENSORS);
  assertSummary(sd, SUMMARY.safetensors);
  assert.deepEqual(sd.get('positional_embedding')!.shape, [77, 32]);
  assert.deepEqual(sd.get('logit_scale')!.shape, []);
});

for (const name of ['small-f16.safetensors', 'small-bf16.safetensors', 'small-mixed.safetensors']) {
  test(`${name}: every value equals torch's, exactly after upcast`, () => {
    assertExact(readSafetensors(fixture(name), name), EXPECTED[name]!);
  });
}

test('metadata is returned as strings', () => {
  assert.deepEqual(readSafetensorsMetadata(fixture('small-f16.safetensors'), 'x'), { format: 'pt' });
});

const sample = (): StateDict => new Map([
  ['w', { dtype: 'float32', shape: [2, 3], data: new Float32Array([1.5, -2, 0.1, 3e-5, 65504, -0]) }],
  ['n', { dtype: 'int64', shape: [2], data: new BigInt64Array([-3n, 1n << 40n]) }],
]);

test('writeSafetensors round-trips float32 and rounds to float16 when asked', () => {
  const bytes = writeSafetensors(sample(), { metadata: { format: 'pt' } });
  assert.equal(new DataView(bytes.buffer).getBigUint64(0, true) % 8n, 0n);
  const back = readSafetensors(bytes, 'rt.safetensors');
  assert.deepEqual(back, sample());
  const half = readSafetensors(writeSafetensors(sample(), { dtype: 'float16' }), 'h.safetensors');
  assert.equal(half.get('w')!.dtype, 'float16');
  assert.deepStrictEqual(Array.from(half.get('w')!.data as Float32Array), [1.5, -2, 0.0999755859375, 0.000029981136322021484, 65504, -0]);
  assert.deepEqual(half.get('n')!.data, new BigInt64Array([-3n, 1n << 40n]));
});

/** A safetensors file with a hand-written header over `dataLen` zero bytes. */
function withHeader(header: unknown, dataLen: number, lenOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, lenOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

const bad: Array<[string, Uint8Array, RegExp, typeof DecodeError]> = [
  ['offsets past the data', withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /'a'.*run past the 4 data bytes/, DecodeError],
  ['size not shape x itemsize', withHeader({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /'a'.*8 bytes for shape \[3\] of F32, expected 12/, DecodeError],
  ['overlap', withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /'b'.*overlaps/, DecodeError],
  ['gap', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /'a'.*begins at data byte 4, expected 0/, DecodeError],
  ['trailing bytes', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8), /cover 4 data bytes but the file holds 8/, DecodeError],
  ['reversed offsets', withHeader({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4), /'a'.*end before they begin/, DecodeError],
  ['negative dim', withHeader({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, 0), /'a'.*shape/, DecodeError],
  ['unknown dtype', withHeader({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), /'a'.*F8_E4M3 is not supported/, UnsupportedError],
  ['header length past the end', withHeader({}, 0, 1000n), /header length 1000 runs past the end/, DecodeError],
  ['absurd header length', withHeader({}, 0, 1n << 60n), /exceeds/, LimitError],
  ['header not JSON', withHeader({}, 0, 1n), /too small/, DecodeError],
  ['array header', withHeader([1], 0), /not a JSON object/, DecodeError],
  ['metadata not strings', withHeader({ __metadata__: { a: 1 } }, 0), /__metadata__.a is not a string/, DecodeError],
  ['seven bytes', new Uint8Array(7), /shorter than its 8-byte header length/, DecodeError],
];
for (const [what, bytes, msg, type] of bad) {
  test(`refuses ${what} with a typed error naming the file`, () => {
    assert.throws(() => readSafetensors(bytes, 'bad.safetensors'), (e: Error) => e instanceof type && msg.test(e.message) && e.message.startsWith('bad.safetensors: '));
  });
}

test('truncating the real file at any of several lengths is a DecodeError', () => {
  const full = fixture('small-mixed.safetensors');
  for (const n of [0, 3, 8, 9, 40, full.length - 200, full.length - 1]) {
    assert.throws(() => readSafetensors(full.subarray(0, n), 'cut.safetensors'), (e: Error) => e instanceof DecodeError && e.message.includes('cut.safetensors'), `length ${n}`);
  }
});
