// The core's bounded inflater (src/io/inflate.ts, fflate) against Node's zlib as the reference: the same bytes,
// every gzip member's CRC-32 and length checked, output that stops at the limit, and a prefix read for headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync, gunzipSync, gzipSync } from 'node:zlib';
import { crc32, crc32Table, gunzipBounded, inflateRawBounded } from '../../src/io/inflate.ts';
import '../../src/node/native-crc.ts';

/** Bytes with some structure (compressible, not trivially) from a fixed linear congruential sequence. */
function sample(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = ((x >>> 24) % 11) + (i % 251 === 0 ? 100 : 0);
  }
  return b;
}

test('gunzip equals zlib, also for a file of two gzip members', () => {
  const a = sample(300_000, 1);
  const b = sample(123_457, 2);
  const one = new Uint8Array(gzipSync(a));
  assert.deepEqual(gunzipBounded(one, 1 << 24), { bytes: new Uint8Array(gunzipSync(one)), overflow: false });
  const two = new Uint8Array([...gzipSync(a), ...gzipSync(b, { level: 1 })]);
  const r = gunzipBounded(two, 1 << 24);
  assert.equal(r.overflow, false);
  assert.equal(Buffer.compare(Buffer.from(r.bytes), gunzipSync(two)), 0);
  assert.equal(r.bytes.length, a.length + b.length);
});

test('a changed trailer byte (CRC-32 or length) of either member is an error, as zlib finds it; a cut stream too', () => {
  const a = sample(50_000, 3);
  const first = new Uint8Array(gzipSync(a));
  const two = new Uint8Array([...first, ...gzipSync(sample(20_000, 4))]);
  for (const at of [first.length - 7, first.length - 2, two.length - 6, two.length - 1]) {
    const bad = two.slice();
    bad[at]! ^= 0x01;
    assert.throws(() => gunzipSync(bad));
    assert.throws(() => gunzipBounded(bad, 1 << 24), /CRC-32 mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)|length mismatch/, `byte ${at}`);
  }
  assert.throws(() => gunzipBounded(first.subarray(0, 1000), 1 << 24), /unexpected EOF/);
});

test('output stops at the limit: 64 MiB of zeros from 64 KiB of gzip, limited to 1000 bytes', () => {
  const gz = new Uint8Array(gzipSync(new Uint8Array(64 << 20), { level: 9 }));
  assert.ok(gz.length < 1 << 17, `${gz.length} bytes`);
  const r = gunzipBounded(gz, 1000);
  assert.equal(r.overflow, true);
  assert.equal(r.bytes.length, 1000);
  const raw = inflateRawBounded(new Uint8Array(deflateRawSync(new Uint8Array(1 << 20))), 16);
  assert.deepEqual(raw, { bytes: new Uint8Array(16), overflow: true });
});

test('a prefix of a gzip file gives the start of its data (partial); raw inflate equals zlib', () => {
  const a = sample(200_000, 5);
  const gz = new Uint8Array(gzipSync(a));
  const head = gunzipBounded(gz.subarray(0, 4000), 65536, true);
  assert.ok(head.bytes.length > 348, `${head.bytes.length} bytes`);
  assert.deepEqual(head.bytes, a.subarray(0, head.bytes.length));
  const raw = inflateRawBounded(new Uint8Array(deflateRawSync(a)), a.length);
  assert.deepEqual(raw, { bytes: a, overflow: false });
  assert.throws(() => inflateRawBounded(new Uint8Array(64).fill(0xff), 100));
});

test('crc32 (zlib when the Node side set it) and the table version agree, also continued from a seed', () => {
  const d = sample(10_000, 6);
  assert.equal(crc32(d), crc32Table(d));
  assert.equal(crc32(d.subarray(5000), crc32(d.subarray(0, 5000))), crc32Table(d));
  assert.equal(crc32Table(d.subarray(5000), crc32Table(d.subarray(0, 5000))), crc32Table(d));
});
