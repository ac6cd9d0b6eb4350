// Property test: mutated safetensors and torch zips only ever produce a state dict (holding no more memory than the
// file bounds) or a typed error naming the file; 10,000 safetensors and 10,000 pickle mutations per run.
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

/** Bytes of every typed array reachable in a decoded checkpoint (a state dict, or any unpickled object). */
function outputBytes(v: unknown, seen = new Set<unknown>()): number {
  if (v === null || typeof v !== 'object' || seen.has(v)) return 0;
  seen.add(v);
  if (ArrayBuffer.isView(v)) return v.byteLength;
  const children = v instanceof Map ? [...v.values()] : Array.isArray(v) || v instanceof Set ? [...v] : Object.values(v);
  return children.reduce((n: number, c) => n + outputBytes(c, seen), 0);
}

/**
 * Memory ceiling per input: what a decoded checkpoint holds is bounded by the file (half floats widen to float32,
 * views may at most double the storages, plus the expanded-buffer slack), never by what its headers claim.
 */
const ceiling = (input: Uint8Array): number => 4 * input.length + 8 * 2 ** 20;

function check(read: (b: Uint8Array, f: string) => unknown, src: Uint8Array, numRuns = 300): { decoded: number; typed: number } {
  const counts = { decoded: 0, typed: 0 };
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
      const input = mutate(src, ms);
      let out: unknown;
      try {
        out = read(input, 'fuzz.bin');
      } catch (e) {
        assert.ok(e instanceof ClipmedError, `untyped ${String(e)}`);
        assert.ok(e.message.startsWith('fuzz.bin: '), e.message);
        counts.typed++;
        return;
      }
      counts.decoded++;
      const held = outputBytes(out);
      assert.ok(held <= ceiling(input), `a ${input.length}-byte input decoded to ${held} bytes`);
    }),
    { numRuns, seed: 20261128 },
  );
  return counts;
}

test('mutated safetensors: a state dict or a typed error', () => { check(readSafetensors, fixture('small-mixed.safetensors')); });
test('mutated torch zips from torch: a state dict or a typed error', () => { check(readTorchZip, fixture('small-views.pt')); });
test('mutated torch zips from the test writer: a state dict or a typed error', () => { check(readCheckpointBytes, torchSave(sampleDict())); });
test('random bytes: always a typed error', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
    assert.throws(() => readCheckpointBytes(b, 'rnd.bin'), (e: Error) => e instanceof ClipmedError && e.message.startsWith('rnd.bin: '));
  }), { numRuns: 300, seed: 7 });
});

test('10,000 mutated safetensors files: each a state dict within the memory ceiling or a typed error', () => {
  const { decoded, typed } = check(readSafetensors, fixture('small-mixed.safetensors'), 10_000);
  assert.equal(decoded + typed, 10_000);
  assert.ok(decoded > 100 && typed > 5000, `decoded ${decoded}, typed errors ${typed}`);
});

test('10,000 mutated pickles (data.pkl re-zipped with valid CRCs): each decoded within the memory ceiling or a typed error', () => {
  let decoded = 0;
  let typed = 0;
  for (const [src, runs] of [[fixture('small-views.pt'), 4000], [fixture('small-proto4.pt'), 3000], [fixture('small-nested.pt'), 3000]] as const) {
    const entries = [...readZip(src, 'src.pt')].map(([name, e]) => ({ name, data: e.read() }));
    const pkl = entries.findIndex((e) => e.name.endsWith('/data.pkl'));
    const c = check((b, f) => readTorchZip(writeZip(entries.map((e, i) => (i === pkl ? { name: e.name, data: b } : e))), f), entries[pkl]!.data, runs);
    decoded += c.decoded;
    typed += c.typed;
  }
  assert.equal(decoded + typed, 10_000);
  assert.ok(decoded > 100 && typed > 5000, `decoded ${decoded}, typed errors ${typed}`);
});
