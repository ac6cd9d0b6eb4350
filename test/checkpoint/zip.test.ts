import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, crc32Table, readZip } from '../../src/checkpoint/zip.ts';
import '../../src/node/native-crc.ts'; // crc32 is zlib's, checked against the table version below
import { readTorchZip } from '../../src/checkpoint/torch.ts';
import { DecodeError, UnsupportedError } from '../../src/errors.ts';
import { torchSave, writeZip } from '../helpers/torch-writer.ts';
import { sampleDict } from '../fixtures/checkpoint/write-writer-sample.ts';
import { fixture } from './fixtures.ts';

const enc = new TextEncoder();
const entries = [{ name: 'a/x.txt', data: enc.encode('hello hello hello hello') }, { name: 'a/y', data: new Uint8Array(300).map((_, i) => i * 7) }];

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(enc.encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32Table(new TextEncoder().encode('123456789')), 0xcbf43926);
  // the table version agrees with zlib's at every length and alignment
  const data = new Uint8Array(1000).map((_, i) => (i * 2654435761) >>> 24);
  for (let a = 0; a < 9; a++) for (const n of [0, 1, 7, 8, 9, 63, 500]) assert.equal(crc32Table(data.subarray(a, a + n)), crc32(data.subarray(a, a + n)), `${a}+${n}`);
});

test('stored entries are views into the archive, not copies', () => {
  const zip = writeZip(entries);
  const e = readZip(zip, 'z.zip').get('a/y')!;
  const data = e.read();
  assert.equal(data.buffer, zip.buffer);
  assert.deepEqual(data, entries[1]!.data);
  assert.equal(e.method, 0);
});

for (const options of [{ deflate: true }, { zip64: true }, { deflate: true, zip64: true }]) {
  test(`reads ${JSON.stringify(options)} archives, and torch checkpoints inside them`, () => {
    const z = readZip(writeZip(entries, options), 'z.zip');
    assert.deepEqual([...z.keys()], ['a/x.txt', 'a/y']);
    assert.deepEqual(z.get('a/x.txt')!.read(), entries[0]!.data);
    assert.deepEqual(z.get('a/y')!.read(), entries[1]!.data);
    assert.deepEqual(readTorchZip(torchSave(sampleDict(), { zip: options }), 'w.pt'), sampleDict());
  });
}

test('a CRC mismatch in a stored entry names the entry and both checksums', () => {
  const zip = writeZip(entries);
  const z = readZip(zip, 'z.zip');
  const at = z.get('a/y')!;
  const data = at.read();
  data[10]! ^= 0xff; // data is a view: this flips the byte inside the archive
  assert.throws(() => at.read(), (e: Error) => e instanceof DecodeError && /z\.zip: entry 'a\/y': CRC-32 mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)/.test(e.message));
});

test('a corrupt deflate stream is a DecodeError', () => {
  const zip = writeZip(entries, { deflate: true });
  const z = readZip(zip, 'z.zip');
  const e = z.get('a/x.txt')!;
  const local = e.localOffset;
  const dv = new DataView(zip.buffer);
  const dataAt = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
  zip.fill(0xff, dataAt, dataAt + e.compressedSize);
  assert.throws(() => e.read(), (err: Error) => err instanceof DecodeError && /entry 'a\/x\.txt'/.test(err.message));
});

test('a bad local header is named', () => {
  const zip = writeZip(entries);
  const z = readZip(zip, 'z.zip');
  zip[z.get('a/y')!.localOffset] = 0;
  assert.throws(() => z.get('a/y')!.read(), /z\.zip: entry 'a\/y': bad local file header/);
});

test('not a zip, empty, truncated and split archives are typed errors naming the file', () => {
  assert.throws(() => readZip(enc.encode('just some text that is long enough to scan'), 't.zip'), (e: Error) => e instanceof DecodeError && /t\.zip: not a ZIP archive/.test(e.message));
  assert.throws(() => readZip(new Uint8Array(0), 'e.zip'), /e\.zip: not a ZIP archive/);
  const real = fixture('small-fp16.pt');
  for (const n of [real.length - 1, real.length - 30, Math.floor(real.length / 2), 100]) {
    assert.throws(() => readZip(real.subarray(0, n), 'cut.pt'), (e: Error) => e instanceof DecodeError && e.message.startsWith('cut.pt: '), `length ${n}`);
  }
  const split = writeZip(entries);
  new DataView(split.buffer).setUint16(split.length - 22 + 4, 1, true);
  assert.throws(() => readZip(split, 's.zip'), UnsupportedError);
});
