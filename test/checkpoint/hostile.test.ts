// Hostile checkpoints (issue 15): tiny files that describe gigabytes (stride-0 and shared-storage views, deflate
// bombs), and pickles nested or wide enough to break a recursive reader. Each is built here; the ones about
// memory run in a child process whose peak RSS is checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDeflateRaw } from 'node:zlib';
import { readTorchObject, readTorchZip } from '../../src/checkpoint/torch.ts';
import { readZip } from '../../src/checkpoint/zip.ts';
import { CheckpointError, DecodeError, LimitError, SecurityError } from '../../src/errors.ts';
import { PickleWriter, torchZip, writeZip } from '../helpers/torch-writer.ts';
import { OUTCOME, runChild } from '../io/child-rss.ts';

const CEILING_MIB = 320;
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** `{ name: _rebuild_tensor_v2(storage '0' of `count` floats, offset 0, size, stride) }` for each view. */
function views(count: number, list: Array<[string, number[], number[]]>): Uint8Array {
  const p = new PickleWriter().proto(2).op(0x7d).mark();
  for (const [name, size, stride] of list) {
    p.str(name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(count).tuple().op(0x51);
    p.int(0).intTuple(size).intTuple(stride).op(0x89).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  }
  p.op(0x75).stop();
  return torchZip(p.bytes(), [['0', new Uint8Array(new Float32Array(count).fill(1.5).buffer)]]);
}

function readInChild(bytes: Uint8Array) {
  return runChild(`
    import { readCheckpointBytes } from '$ROOT/src/checkpoint/load.ts';
    ${OUTCOME}
    const bytes = new Uint8Array(Buffer.from('${b64(bytes)}', 'base64'));
    report(await outcome(() => [...readCheckpointBytes(bytes, 'bomb.pt').values()].reduce((n, t) => n + t.data.length, 0)));
  `);
}

test('a stride-0 view of one float claiming 2^30 elements (a ~600-byte file) is a LimitError, memory stays flat', () => {
  const bytes = views(1, [['w', [32768, 32768], [0, 0]]]);
  assert.ok(bytes.length < 1000, `${bytes.length} bytes`);
  const r = readInChild(bytes);
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  assert.equal((r.result as { error: string }).error, 'LimitError');
  assert.match((r.result as { message: string }).message, /^bomb\.pt: tensor 'w': size \[32768,32768\] would bring the tensors to 1073741824 elements, more than twice the 1 the storages hold/);
  assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
});

test('eight shared-storage views, each under the per-tensor limit, together past the storages: a LimitError', () => {
  const bytes = views(4, Array.from({ length: 8 }, (_, i) => [`w${i}`, [8192, 16384], [0, 0]] as [string, number[], number[]]));
  assert.ok(bytes.length < 2000, `${bytes.length} bytes`);
  const r = readInChild(bytes);
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  assert.equal((r.result as { error: string }).error, 'LimitError');
  assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
});

test('legitimate sharing still loads: tied weights gathered once, an expanded buffer, slices of one storage', () => {
  const sd = readTorchZip(views(6, [['a', [2, 3], [3, 1]], ['tied', [2, 3], [3, 1]], ['pos', [1, 6], [0, 1]], ['row0', [3], [1]], ['col', [2], [3]]]), 'ok.pt');
  assert.equal(sd.get('a'), sd.get('tied'));
  assert.deepEqual(sd.get('pos')!.shape, [1, 6]);
  assert.deepEqual(Array.from(sd.get('col')!.data as Float32Array), [1.5, 1.5]);
});

/** Raw deflate of `n` zero bytes, made in 1 MiB pieces (the test never holds the inflated data). */
async function deflatedZeros(n: number): Promise<Uint8Array> {
  const z = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => z.on('end', resolve));
  const chunk = Buffer.alloc(1 << 20);
  for (let left = n; left > 0; left -= chunk.length) {
    if (!z.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise((r) => z.once('drain', r));
  }
  z.end();
  await done;
  return new Uint8Array(Buffer.concat(out));
}

/** A zip with one deflated entry whose central directory declares `size` (what readZip trusts). */
function zipWithDeflated(name: string, deflated: Uint8Array, size: number, crc = 0): Uint8Array {
  // by hand: local header, data, central directory, end record
  const enc = new TextEncoder().encode(name);
  const local = new Uint8Array(30 + enc.length);
  const lv = new DataView(local.buffer);
  lv.setUint32(0, 0x04034b50, true);
  lv.setUint16(4, 20, true);
  lv.setUint16(8, 8, true);
  lv.setUint32(14, crc, true);
  lv.setUint32(18, deflated.length, true);
  lv.setUint32(22, size, true);
  lv.setUint16(26, enc.length, true);
  local.set(enc, 30);
  const cd = new Uint8Array(46 + enc.length);
  const cv = new DataView(cd.buffer);
  cv.setUint32(0, 0x02014b50, true);
  cv.setUint16(4, 20, true);
  cv.setUint16(6, 20, true);
  cv.setUint16(10, 8, true);
  cv.setUint32(16, crc, true);
  cv.setUint32(20, deflated.length, true);
  cv.setUint32(24, size, true);
  cv.setUint16(28, enc.length, true);
  cd.set(enc, 46);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, 1, true);
  ev.setUint16(10, 1, true);
  ev.setUint32(12, cd.length, true);
  ev.setUint32(16, local.length + deflated.length, true);
  const out = new Uint8Array(local.length + deflated.length + cd.length + eocd.length);
  out.set(local, 0);
  out.set(deflated, local.length);
  out.set(cd, local.length + deflated.length);
  out.set(eocd, local.length + deflated.length + cd.length);
  return out;
}

test('a deflated zip entry that inflates past its declared size stops at that size (512 MiB of zeros declared as 16 bytes)', async () => {
  const bomb = zipWithDeflated('archive/data/0', await deflatedZeros(512 << 20), 16);
  assert.ok(bomb.length < 1 << 20, `${bomb.length} bytes`);
  const r = runChild(`
    import { readZip } from '$ROOT/src/checkpoint/zip.ts';
    ${OUTCOME}
    const bytes = new Uint8Array(Buffer.from('${b64(bomb)}', 'base64'));
    report(await outcome(() => readZip(bytes, 'bomb.zip').get('archive/data/0')!.read().length));
  `);
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  assert.deepEqual(r.result, { error: 'DecodeError', message: "bomb.zip: entry 'archive/data/0': inflates past its declared 16 bytes" });
  assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
});

test('a deflated entry declaring more than deflate can expand to is refused before inflating', async () => {
  const deflated = await deflatedZeros(1 << 16);
  const zip = zipWithDeflated('x', deflated, deflated.length * 1032 + 4096);
  assert.throws(() => readZip(zip, 'r.zip').get('x')!.read(), (e: Error) => e instanceof DecodeError && /r\.zip: entry 'x': declares \d+ bytes from \d+ deflated, more than deflate can expand to/.test(e.message));
});

test('a storage entry whose declared size disagrees with the storage is refused before it is read', () => {
  const p = new PickleWriter().proto(2).op(0x7d).str('t').global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(2).tuple().op(0x51);
  p.int(0).intTuple([2]).intTuple([1]).op(0x89).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce().op(0x73).stop();
  const bytes = torchZip(p.bytes(), [['0', new Uint8Array(400)]], 'archive', [], { deflate: true });
  assert.throws(() => readTorchZip(bytes, 'd.pt'), (e: Error) => e instanceof DecodeError && e.message === "d.pt: storage '0' holds 400 bytes, expected 2 float32 elements (8 bytes)");
});

test('a pickle of lists nested 100,000 deep is a LimitError, not a stack overflow', () => {
  const depth = 100_000;
  const p = new PickleWriter().proto(2);
  for (let i = 0; i < depth; i++) p.op(0x5d);
  for (let i = 1; i < depth; i++) p.op(0x61);
  const bytes = torchZip(p.stop().bytes());
  assert.throws(() => readTorchObject(bytes, 'deep.pt'), (e: Error) => e instanceof LimitError && /^deep\.pt: the pickle nests containers more than 1000 deep/.test(e.message));
  // tuples nest through MARK ... TUPLE
  const t = new PickleWriter().proto(2);
  for (let i = 0; i < depth; i++) t.mark();
  for (let i = 0; i < depth; i++) t.tuple();
  assert.throws(() => readTorchObject(torchZip(t.stop().bytes()), 'tuples.pt'), (e: Error) => e instanceof LimitError);
});

test('APPENDS of 500,000 items (a spread that would overflow the stack) is read, then named as not a state dict', () => {
  const p = new PickleWriter().proto(2).op(0x5d).mark();
  for (let i = 0; i < 500_000; i++) p.op(0x4e);
  const bytes = torchZip(p.op(0x65).stop().bytes());
  assert.equal((readTorchObject(bytes, 'wide.pt') as unknown[]).length, 500_000);
  assert.throws(() => readTorchZip(bytes, 'wide.pt'), (e: Error) => e instanceof CheckpointError && /wide\.pt: no state dict found: the checkpoint holds a list or tuple/.test(e.message));
});

test('names from the file reach error messages without terminal escapes (pickle globals, zip entries, tensor keys)', () => {
  const esc = '\u001b[2J\u001b]0;pwned\u0007';
  const g = new PickleWriter().proto(2).global(`os${esc}`, 'system').stop();
  assert.throws(() => readTorchObject(torchZip(g.bytes()), 'g.pt'), (e: Error) => e instanceof SecurityError && e.message.includes('os\\u001b[2J\\u001b]0;pwned\\u0007.system') && !/[\u0000-\u001f]/.test(e.message));
  const zip = writeZip([{ name: `a${esc}`, data: new Uint8Array(1) }, { name: `a${esc}`, data: new Uint8Array(1) }]);
  assert.throws(() => readZip(zip, 'z.pt'), (e: Error) => e instanceof DecodeError && e.message.includes("entry 'a\\u001b[2J") && !/[\u0000-\u001f]/.test(e.message));
  const p = new PickleWriter().proto(2).op(0x7d).str(`k${esc}\u202e`).global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(1).tuple().op(0x51);
  p.int(0).intTuple([4]).intTuple([1]).op(0x89).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce().op(0x73).stop();
  const t = torchZip(p.bytes(), [['0', new Uint8Array(4)]]);
  assert.throws(() => readTorchZip(t, 't.pt'), (e: Error) => e instanceof DecodeError && e.message.includes("tensor 'k\\u001b[2J") && e.message.includes('\\u202e') && !/[\u0000-\u001f\u202e]/.test(e.message));
});
