import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { findStateDict, readTorchObject, readTorchZip } from '../../src/checkpoint/torch.ts';
import { CheckpointError, DecodeError, LimitError, UnsupportedError } from '../../src/errors.ts';
import type { StateDict } from '../../src/checkpoint/types.ts';
import { PickleWriter, torchSave, torchZip, writeZip } from '../helpers/torch-writer.ts';
import { sampleDict } from '../fixtures/checkpoint/write-writer-sample.ts';
import { EXPECTED, TORCH_BIN, SUMMARY, assertExact, assertSummary, fixture } from './fixtures.ts';

test('reads the open_clip tiny torch.save zip like torch.load', () => {
  const sd = readTorchZip(new Uint8Array(readFileSync(TORCH_BIN)), TORCH_BIN);
  assertSummary(sd, SUMMARY.torch);
  assert.equal(sd.size, 62);
  assert.deepEqual(sd.get('visual.conv1.weight')!.shape, [64, 3, 16, 16]);
  assert.deepEqual(sd.get('text_projection')!.shape, [32, 32]);
});

for (const name of ['small-fp16.pt', 'small-views.pt', 'small-proto4.pt']) {
  test(`${name}: every tensor equals torch.load's, exactly`, () => {
    assertExact(readTorchZip(fixture(name), name), EXPECTED[name]!);
  });
}

test('strided views of one storage are gathered, and a Parameter is read as its tensor', () => {
  const sd = readTorchZip(fixture('small-views.pt'), 'v.pt');
  // m = arange(24)/4 - 2 as [4, 6]; transposed[j][i] = m[i][j]
  assert.deepEqual(sd.get('transposed')!.shape, [6, 4]);
  assert.equal((sd.get('transposed')!.data as Float32Array)[1], (6 / 4) - 2);
  assert.deepEqual(Array.from(sd.get('offset_row')!.data as Float32Array), [12, 13, 14, 15, 16, 17].map((v) => v / 4 - 2));
  assert.deepEqual(sd.get('param')!.shape, [3]);
});

test('a nested training checkpoint yields its state_dict', () => {
  const obj = readTorchObject(fixture('small-nested.pt'), 'n.pt') as Map<string, unknown>;
  assert.equal(obj.get('epoch'), 3);
  assert.deepEqual(obj.get('optimizer'), new Map<string, unknown>([['lr', 0.001], ['betas', [0.9, 0.98]]]));
  assertExact(readTorchZip(fixture('small-nested.pt'), 'n.pt'), EXPECTED['small-fp16.pt']!);
});

test('findStateDict names the keys it saw when there is no state dict', () => {
  assert.throws(() => findStateDict(new Map<string, unknown>([['epoch', 1], ['opt', new Map()]]), 'c.pt'), (e: Error) => e instanceof CheckpointError && /keys epoch, opt/.test(e.message) && e.message.startsWith('c.pt: '));
  assert.throws(() => findStateDict([1, 2], 'c.pt'), CheckpointError);
});

test('legacy (non-zip) torch.save files are refused with advice to re-save', () => {
  assert.throws(() => readTorchZip(fixture('small-legacy.pt'), 'old.pt'), (e: Error) => e instanceof UnsupportedError && /old\.pt: .*legacy.*re-save/.test(e.message));
});

test('TorchScript archives are refused, not run', () => {
  assert.throws(() => readTorchZip(fixture('small-scripted.pt'), 'ViT-B-32.pt'), (e: Error) => e instanceof UnsupportedError && /ViT-B-32\.pt: .*TorchScript/.test(e.message));
});

test('the test writer round-trips float32, float16 and a wrapped dict', () => {
  const want = sampleDict();
  assert.deepEqual(readTorchZip(torchSave(want), 'w.pt'), want);
  assert.deepEqual(readTorchZip(torchSave(want, { wrap: 'model' }), 'w.pt'), want);
  const half: StateDict = readTorchZip(torchSave(want, { dtype: 'float16' }), 'h.pt');
  for (const [k, t] of want) {
    assert.equal(half.get(k)!.dtype, 'float16');
    assert.deepEqual(half.get(k)!.data, t.data); // sample values are exact in float16
  }
});

/** A pickle with one tensor on storage '0' of `numel` floats: offset, size, stride as given. */
function oneTensor(offset: number, size: number[], stride: number[], storageBytes: number, numel: number): Uint8Array {
  const w = new PickleWriter().proto(2).op(0x7d).str('t').global('torch._utils', '_rebuild_tensor_v2').mark();
  w.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(numel).tuple().op(0x51);
  w.int(offset).intTuple(size).intTuple(stride).op(0x89).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  w.op(0x73).stop();
  return torchZip(w.bytes(), [['0', new Uint8Array(storageBytes)]]);
}

test('views reaching past their storage, and storages of the wrong size, are DecodeErrors', () => {
  assert.ok(readTorchZip(oneTensor(2, [2, 2], [2, 1], 24, 6), 'ok.pt').get('t'));
  assert.throws(() => readTorchZip(oneTensor(3, [2, 2], [2, 1], 24, 6), 'v.pt'), (e: Error) => e instanceof DecodeError && /v\.pt: tensor 't': view .*reaches element 7 of storage '0' which holds 6/.test(e.message));
  assert.throws(() => readTorchZip(oneTensor(0, [2], [1], 20, 6), 's.pt'), (e: Error) => e instanceof DecodeError && /s\.pt: storage '0' holds 20 bytes, expected 6/.test(e.message));
});

test('expanded (stride 0) views are gathered, and absurd ones are a LimitError', () => {
  const storage = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
  const w = (size: number[], stride: number[]): Uint8Array => {
    const p = new PickleWriter().proto(2).op(0x7d).str('t').global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(3).tuple().op(0x51);
    p.int(1).intTuple(size).intTuple(stride).op(0x89).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce().op(0x73).stop();
    return torchZip(p.bytes(), [['0', storage]]);
  };
  const t = readTorchZip(w([3, 2], [0, 1]), 'e.pt').get('t')!;
  assert.deepEqual(t.shape, [3, 2]);
  assert.deepEqual(Array.from(t.data as Float32Array), [2, 3, 2, 3, 2, 3]);
  assert.throws(() => readTorchZip(w([65535, 65535, 65535], [0, 0, 0]), 'big.pt'), (e: Error) => e instanceof LimitError && /big\.pt: tensor 't': .*more than the 1073741824 allowed/.test(e.message));
});

test('_rebuild_from_type_v2 (newer torch, tensor with attributes) yields the plain tensor', () => {
  const p = new PickleWriter().proto(2).op(0x7d).str('t').global('torch._tensor', '_rebuild_from_type_v2').mark();
  p.global('torch._utils', '_rebuild_tensor_v2').global('torch', 'Tensor').mark();
  p.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(2).tuple().op(0x51);
  p.int(0).intTuple([2]).intTuple([1]).op(0x89).global('collections', 'OrderedDict').emptyTuple().reduce().tuple();
  p.op(0x7d).str('note').str('x').op(0x73).tuple().reduce().op(0x73).stop();
  const t = readTorchZip(torchZip(p.bytes(), [['0', new Uint8Array(new Float32Array([4, 5]).buffer)]]), 'n.pt').get('t')!;
  assert.deepEqual(t, { dtype: 'float32', shape: [2], data: new Float32Array([4, 5]) });
});

test('a missing storage entry or a big-endian archive is named', () => {
  const w = new PickleWriter().proto(2).op(0x7d).str('t').global('torch._utils', '_rebuild_tensor_v2').mark();
  w.mark().str('storage').global('torch', 'FloatStorage').str('9').str('cpu').int(1).tuple().op(0x51);
  w.int(0).intTuple([1]).intTuple([1]).op(0x89).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce().op(0x73).stop();
  assert.throws(() => readTorchZip(torchZip(w.bytes()), 'm.pt'), /m\.pt: storage '9' is missing/);
  const big = writeZip([
    { name: 'archive/data.pkl', data: new PickleWriter().proto(2).op(0x7d).stop().bytes() },
    { name: 'archive/byteorder', data: new TextEncoder().encode('big') },
  ]);
  assert.throws(() => readTorchZip(big, 'b.pt'), (e: Error) => e instanceof UnsupportedError && /b\.pt: .*byteorder is 'big'/.test(e.message));
});
