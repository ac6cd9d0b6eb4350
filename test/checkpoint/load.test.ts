import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpointBytes, sniffCheckpoint } from '../../src/checkpoint/load.ts';
import { hashFile, readCheckpoint } from '../../src/node/checkpoint-files.ts';
import { ClipmedError, DecodeError, UnsupportedError } from '../../src/errors.ts';
import { SAFETENSORS, SUMMARY, TORCH_BIN, assertSummary, fixture } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'clipmed-load-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('readCheckpoint sniffs by magic bytes, not by extension', async () => {
  assertSummary(await readCheckpoint(TORCH_BIN), SUMMARY.torch);
  assertSummary(await readCheckpoint(SAFETENSORS), SUMMARY.safetensors);
  // swap the extensions: still read correctly
  const a = join(dir, 'really-torch.safetensors');
  const b = join(dir, 'really-safetensors.bin');
  writeFileSync(a, fixture('small-fp16.pt'));
  writeFileSync(b, fixture('small-f16.safetensors'));
  assert.deepEqual([...(await readCheckpoint(a)).keys()], ['a', 'b', 'c']);
  assert.deepEqual(await readCheckpoint(b), await readCheckpoint(a));
});

test('sniffCheckpoint tells the formats apart', () => {
  assert.equal(sniffCheckpoint(fixture('small-fp16.pt')), 'torch-zip');
  assert.equal(sniffCheckpoint(fixture('small-mixed.safetensors')), 'safetensors');
  assert.equal(sniffCheckpoint(fixture('small-legacy.pt')), 'torch-legacy');
  assert.equal(sniffCheckpoint(new Uint8Array([0x80, 2, 0x7d, 0x2e])), 'unknown');
  assert.equal(sniffCheckpoint(new Uint8Array(0)), 'unknown');
});

test('hashFile streams SHA-256', async () => {
  assert.equal(await hashFile(SAFETENSORS), '036c16e6c75218f40f8c64f0f29fe85403d0ec0dcade4f2f74b4a9ec05191c4d');
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  assert.equal(await hashFile(empty), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  await assert.rejects(hashFile(join(dir, 'missing')), /ENOENT/);
});

test('legacy, TorchScript, empty and random files are typed errors naming the file', async () => {
  const cases: Array<[string, Uint8Array, typeof ClipmedError, RegExp]> = [
    ['old.pt', fixture('small-legacy.pt'), UnsupportedError, /legacy .*re-save/],
    ['jit.pt', fixture('small-scripted.pt'), UnsupportedError, /TorchScript/],
    ['empty.bin', new Uint8Array(0), DecodeError, /not a checkpoint .*empty/],
    ['pickle.pkl', new Uint8Array([0x80, 2, 0x7d, 0x2e]), DecodeError, /not a checkpoint .*80 02 7d 2e/],
  ];
  for (const [name, bytes, type, msg] of cases) {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    await assert.rejects(readCheckpoint(p), (e: Error) => e instanceof type && msg.test(e.message) && e.message.startsWith(`${p}: `), name);
  }
});

test('flipping any single byte never crashes: a typed error, or (torch, CRC-protected) the same tensors', () => {
  for (const name of ['small-fp16.pt', 'small-bf16.safetensors']) {
    const good = fixture(name);
    const ref = readCheckpointBytes(good, name);
    let refused = 0;
    for (let i = 0; i < good.length; i += 3) {
      const bad = good.slice();
      bad[i]! ^= 0x5a;
      try {
        const sd = readCheckpointBytes(bad, 'flip');
        // safetensors has no checksum, so a flipped data byte changes a value; the torch zip's CRC forbids that
        if (name.endsWith('.pt')) assert.deepEqual(sd, ref, `${name} byte ${i}`);
        else assert.equal(sd.size, ref.size);
      } catch (e) {
        refused++;
        assert.ok(e instanceof ClipmedError && e.message.startsWith('flip: '), `${name} byte ${i}: ${String(e)}`);
      }
    }
    assert.ok(refused > 20, `${name}: only ${refused} flips refused`);
  }
});

test('files truncated at several lengths are typed errors naming the file', () => {
  for (const name of ['small-views.pt', 'small-mixed.safetensors']) {
    const full = fixture(name);
    for (const n of [0, 1, 4, 9, 64, Math.floor(full.length / 3), full.length - 23, full.length - 1]) {
      assert.throws(() => readCheckpointBytes(full.subarray(0, n), 'cut.bin'), (e: Error) => e instanceof ClipmedError && e.message.startsWith('cut.bin: '), `${name} at ${n}`);
    }
  }
});
