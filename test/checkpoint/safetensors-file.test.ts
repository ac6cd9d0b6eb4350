// readCheckpoint reads a safetensors file tensor by tensor (readSafetensorsFile): the same state dict as decoding
// the whole file in memory, and the same typed errors for cut or damaged files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpointBytes } from '../../src/checkpoint/load.ts';
import { readCheckpoint, readSafetensorsFile } from '../../src/node/checkpoint-files.ts';
import { writeSafetensors } from '../../src/checkpoint/safetensors.ts';
import type { StateDict } from '../../src/checkpoint/types.ts';
import { ClipmedError } from '../../src/errors.ts';
import { EXPECTED, FIXTURES, SAFETENSORS, SUMMARY, assertExact, assertSummary, fixture } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'clipmed-stfile-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the file reader gives exactly the tensors of the reference fixtures (f16, bf16, mixed dtypes)', async () => {
  for (const name of ['small-f16.safetensors', 'small-bf16.safetensors', 'small-mixed.safetensors']) {
    const sd = await readSafetensorsFile(FIXTURES + name);
    assert.ok(sd, name);
    assertExact(sd, EXPECTED[name]!);
    assert.deepEqual(sd, readCheckpointBytes(fixture(name), name), name);
  }
  assertSummary((await readSafetensorsFile(SAFETENSORS))!, SUMMARY.safetensors);
});

test('float32 tensors after odd-sized ones (unaligned in the file) read exactly, each in a buffer of its own', async () => {
  const sd: StateDict = new Map([
    ['u', { dtype: 'uint8', shape: [3], data: Uint8Array.of(1, 2, 3) }],
    ['w', { dtype: 'float32', shape: [2, 3], data: Float32Array.of(1.5, -2, 3.25, 1e-30, 7, -0) }],
    ['h', { dtype: 'float16', shape: [1], data: Float32Array.of(0.5) }],
    ['i', { dtype: 'int64', shape: [2], data: BigInt64Array.of(-1n, 1n << 40n) }],
    ['e', { dtype: 'float32', shape: [0], data: new Float32Array(0) }],
  ]);
  const p = join(dir, 'odd.safetensors');
  writeFileSync(p, writeSafetensors(sd));
  const got = (await readCheckpoint(p));
  assert.deepEqual(got, sd);
  const w = got.get('w')!.data as Float32Array;
  assert.equal(w.byteOffset, 0);
  assert.equal(w.buffer.byteLength, 24); // not a view into the whole file
});

test('cut and damaged files are typed errors naming the file, as the in-memory reader gives', async () => {
  const full = fixture('small-mixed.safetensors');
  for (const n of [0, 1, 4, 9, 64, Math.floor(full.length / 3), full.length - 23, full.length - 1]) {
    const p = join(dir, `cut-${n}.safetensors`);
    writeFileSync(p, full.subarray(0, n));
    await assert.rejects(readCheckpoint(p), (e: Error) => e instanceof ClipmedError && e.message.startsWith(`${p}: `), `cut at ${n}`);
  }
  const longer = join(dir, 'trailing.safetensors');
  writeFileSync(longer, Buffer.concat([full, Buffer.from([0, 0, 0, 0])]));
  await assert.rejects(readCheckpoint(longer), (e: Error) => e instanceof ClipmedError && /cover \d+ data bytes but the file holds/.test(e.message));
});

test('other formats are not taken for safetensors', async () => {
  const p = join(dir, 'torch.bin');
  writeFileSync(p, fixture('small-fp16.pt'));
  assert.equal(await readSafetensorsFile(p), undefined);
  assertExact(await readCheckpoint(p), EXPECTED['small-fp16.pt']!);
});
