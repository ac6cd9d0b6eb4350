// Property test: mutated safetensors and torch zips only ever produce a state dict or a typed error naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readCheckpointBytes } from '../../src/checkpoint/load.ts';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';
import { readTorchZip } from '../../src/checkpoint/torch.ts';
import { ClipmedError } from '../../src/errors.ts';
import { fixture } from './fixtures.ts';
import { torchSave, writeZip } from '../helpers/torch-writer.ts';
import { readZip } from '../../src/checkpoint/zip.ts';
import { sampleDict } from '../fixtures/checkpoint/write-writer-sample.ts';

type Mutation = { kind: 'set'; at: number; value: number } | { kind: 'cut'; at: number } | { kind: 'splice'; at: number; bytes: Uint8Array };

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
);

function mutate(src: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = src.slice();
  for (const m of ms) {
    const at = b.length ? m.at % b.length : 0;
    if (m.kind === 'set') b[at] = m.value;
    else if (m.kind === 'cut') b = b.slice(0, at);
    else b = new Uint8Array([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
  }
  return b;
}

function check(read: (b: Uint8Array, f: string) => unknown, src: Uint8Array): void {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
      try {
        read(mutate(src, ms), 'fuzz.bin');
      } catch (e) {
        assert.ok(e instanceof ClipmedError, `untyped ${String(e)}`);
        assert.ok(e.message.startsWith('fuzz.bin: '), e.message);
      }
    }),
    { numRuns: 300, seed: 20261128 },
  );
}

test('mutated safetensors: a state dict or a typed error', () => check(readSafetensors, fixture('small-mixed.safetensors')));
test('mutated torch zips from torch: a state dict or a typed error', () => check(readTorchZip, fixture('small-views.pt')));
test('mutated torch zips from the test writer: a state dict or a typed error', () => check(readCheckpointBytes, torchSave(sampleDict())));
test('mutated data.pkl re-zipped with valid CRCs (reaches the unpickler): a state dict or a typed error', () => {
  for (const src of [fixture('small-views.pt'), fixture('small-proto4.pt'), fixture('small-nested.pt')]) {
    const entries = [...readZip(src, 'src.pt')].map(([name, e]) => ({ name, data: e.read() }));
    const pkl = entries.findIndex((e) => e.name.endsWith('/data.pkl'));
    check((b, f) => readTorchZip(writeZip(entries.map((e, i) => (i === pkl ? { name: e.name, data: b } : e))), f), entries[pkl]!.data);
  }
});

test('random bytes: always a typed error', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
    assert.throws(() => readCheckpointBytes(b, 'rnd.bin'), (e: Error) => e instanceof ClipmedError && e.message.startsWith('rnd.bin: '));
  }), { numRuns: 300, seed: 7 });
});
