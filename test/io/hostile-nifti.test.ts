// Hostile NIfTI and .npy files (issue 15), built here: a gzip whose header puts the voxels gigabytes in, negative
// and absurd .npy shapes; and a fuzz run of 10,000 mutated NIfTI files, each decoded within a memory ceiling or
// refused with a typed error naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ClipmedError, DecodeError } from '../../src/errors.ts';
import { readNifti } from '../../src/io/nifti.ts';
import { readNpy, writeNpy } from '../../src/io/npy.ts';
import { niftiFile } from './build-nifti.ts';
import { OUTCOME, runChild } from './child-rss.ts';

const CEILING_MIB = 320;

/** gzip of `head`, then `zeros` zero bytes, then `tail`, streamed in 1 MiB pieces. */
async function gzipWithZeros(head: Uint8Array, zeros: number, tail: Uint8Array): Promise<Uint8Array> {
  const z = createGzip({ level: 9 });
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => z.on('end', resolve));
  const write = async (b: Uint8Array) => { if (!z.write(b)) await new Promise((r) => z.once('drain', r)); };
  await write(head);
  const chunk = new Uint8Array(1 << 20);
  for (let left = zeros; left > 0; left -= chunk.length) await write(left >= chunk.length ? chunk : chunk.subarray(0, left));
  await write(tail);
  z.end();
  await done;
  return new Uint8Array(Buffer.concat(out));
}

test('a .nii.gz whose vox_offset is 1 GiB is a LimitError before it inflates, memory stays flat', async () => {
  const off = 2 ** 30;
  const header = niftiFile({ dims: [1, 1, 1], datatype: 2, bitpix: 8, voxOffset: 352, data: new Uint8Array(0) }).slice(0, 352);
  new DataView(header.buffer).setFloat32(108, off, true);
  const gz = await gzipWithZeros(header, off - 352, Uint8Array.of(42));
  assert.ok(gz.length < 2 << 20, `${gz.length} bytes`);
  const r = runChild(`
    import { readNifti } from '$ROOT/src/io/nifti.ts';
    import { readFileSync } from 'node:fs';
    ${OUTCOME}
    report(await outcome(() => readNifti(readFileSync(process.env.NII!), { source: 'bomb.nii.gz' }).data.length));
  `, { NII: await writeTemp(gz) });
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  assert.deepEqual(r.result, { error: 'LimitError', message: 'bomb.nii.gz: NIfTI: vox_offset 1073741824 puts the voxels past the first 67108864 bytes; a gzip file would have to inflate all of them first' });
  assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
});

test('a .nii.gz with header extensions (vox_offset 4 KiB) still reads', () => {
  const plain = niftiFile({ dims: [2, 2, 1], datatype: 2, bitpix: 8, voxOffset: 4096, data: Uint8Array.of(1, 2, 3, 4) });
  plain.set([1, 0, 0, 0], 348);
  assert.deepEqual(Array.from(readNifti(gzipSync(plain), { source: 'ext.nii.gz' }).data), [1, 2, 3, 4]);
});

test('.npy with a negative, fractional or absurd shape is a DecodeError, not a RangeError', () => {
  const npy = (shape: string) => {
    const ok = writeNpy(new Float32Array(4), [4]);
    const text = new TextDecoder('latin1').decode(ok.subarray(10, 10 + new DataView(ok.buffer).getUint16(8, true)));
    const header = text.replace('(4,)', `(${shape})`).padEnd(text.length, ' ');
    const out = ok.slice();
    out.set(Uint8Array.from(header.slice(0, text.length - 1) + '\n', (c) => c.charCodeAt(0)), 10);
    return out;
  };
  assert.deepEqual(Array.from(readNpy(npy('2, 2'), 'ok.npy').shape), [2, 2]);
  for (const [shape, why] of [['-4,', /dimension 0 '-4' is not a non-negative integer/], ['2, -2', /dimension 1 '-2'/], ['1.5,', /'1.5'/], ['99999999999, 99999999999', /holds more elements than any file can/], ['4000000000,', /data too short/]] as const) {
    assert.throws(() => readNpy(npy(shape), 'n.npy'), (e: Error) => e instanceof DecodeError && e.message.startsWith('n.npy: ') && why.test(e.message), shape);
  }
});

async function writeTemp(b: Uint8Array): Promise<string> {
  const p = join(mkdtempSync(join(tmpdir(), 'clipmed-nii-')), 'bomb.nii.gz');
  writeFileSync(p, b);
  return p;
}

// ---- fuzz ----

const SEEDS: Array<{ name: string; bytes: Uint8Array }> = (() => {
  const u8 = Uint8Array.from({ length: 24 }, (_, i) => i * 7);
  const i16 = new Uint8Array(new Int16Array(Array.from({ length: 24 }, (_, i) => i * 300 - 3000)).buffer);
  const f32 = new Uint8Array(new Float32Array(Array.from({ length: 24 }, (_, i) => i / 3)).buffer);
  const f64 = new Uint8Array(new Float64Array(Array.from({ length: 12 }, (_, i) => -i)).buffer);
  const files = [
    { name: 'u8.nii', bytes: niftiFile({ dims: [4, 3, 2], datatype: 2, bitpix: 8, data: u8 }) },
    { name: 'i16-scaled-qform.nii', bytes: niftiFile({ dims: [4, 3, 2], datatype: 4, bitpix: 16, slope: 0.5, inter: 10, qform: true, data: i16 }) },
    { name: 'f32-4d-be.nii', bytes: niftiFile({ dims: [3, 2, 2, 2], datatype: 16, bitpix: 32, bigEndian: true, data: f32 }) },
    { name: 'f64-v2.nii', bytes: niftiFile({ version: 2, dims: [3, 2, 2], datatype: 64, bitpix: 64, data: f64 }) },
  ];
  return [...files, ...files.map((f) => ({ name: `${f.name}.gz`, bytes: new Uint8Array(gzipSync(f.bytes)) }))];
})();

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.oneof(fc.constant(0xffffffff), fc.constant(0x7fffffff), fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })) }),
);
type Mutation = { kind: 'truncate'; at: number } | { kind: 'flip'; flips: [number, number][] } | { kind: 'word'; at: number; value: number };

function mutate(src: Uint8Array, m: Mutation): Uint8Array {
  const b = Uint8Array.from(src);
  if (m.kind === 'truncate') return b.subarray(0, m.at % b.length);
  if (m.kind === 'flip') {
    for (const [pos, x] of m.flips) b[pos % b.length]! ^= x;
    return b;
  }
  // mostly in the header, where the size claims are
  new DataView(b.buffer).setUint32(m.at % Math.min(b.length - 4, 540), m.value, true);
  return b;
}

test('10,000 mutated NIfTI files (NIfTI-1/2, both byte orders, gzip): each a volume within the memory ceiling or a typed error', () => {
  let decoded = 0;
  let typed = 0;
  const maxVoxels = 1 << 20;
  for (const seed of SEEDS) {
    fc.assert(
      fc.property(mutation, (m) => {
        const bytes = mutate(seed.bytes, m as Mutation);
        try {
          const vol = readNifti(bytes, { source: `fuzz/${seed.name}`, maxVoxels });
          // memory ceiling per input: the volume is bounded by the voxel limit, never by what the header claims
          assert.ok(vol.data.byteLength <= 4 * maxVoxels, `${vol.data.byteLength} bytes`);
          decoded++;
        } catch (e) {
          if (!(e instanceof ClipmedError) || !e.message.startsWith(`fuzz/${seed.name}: `)) throw e;
          typed++;
        }
      }),
      { numRuns: 1250, seed: 15 },
    );
  }
  assert.equal(decoded + typed, 10_000);
  assert.ok(decoded > 1000 && typed > 1000, `decoded ${decoded}, typed errors ${typed}`);
});
