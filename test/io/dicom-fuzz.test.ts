// Mutated real DICOM files (truncated, bytes flipped, lengths overwritten): decoding either succeeds or
// throws one of clipmed's typed errors naming the file; never anything else, never a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ClipmedError, decodeDicom } from '../../src/index.ts';
import { DATA } from '../helpers/reference.ts';

// small files covering the decoding paths: native LE/BE, deflate, RLE 8/16/32-bit, JPEG, JPEG 2000, no meta
const SEEDS = [
  'SC_rgb_small_odd.dcm', 'rtdose_1frame.dcm', 'rtdose_expb_1frame.dcm', 'SC_rgb_rle.dcm', 'SC_rgb_rle_16bit.dcm', 'SC_rgb_rle_32bit.dcm',
  'rtdose_rle_1frame.dcm', 'SC_rgb_small_odd_jpeg.dcm', 'SC_rgb_dcmtk_+eb+cy+np.dcm', 'JPEG2000.dcm', 'image_dfl.dcm', 'ExplVR_LitEndNoMeta.dcm',
].map((f) => ({ name: f, bytes: readFileSync(join(DATA, 'dicom/pydicom-test-files', f)) }));

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('flip' as const), flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('length' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.oneof(fc.constant(0xffffffff), fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })) }),
);

interface Mutation { kind: 'truncate' | 'flip' | 'length'; at?: number; flips?: [number, number][]; value?: number }

function mutate(src: Uint8Array, m: Mutation): Uint8Array {
  const b = Uint8Array.from(src);
  if (m.kind === 'truncate') return b.subarray(0, Math.floor(m.at! * b.length));
  if (m.kind === 'flip') {
    for (const [pos, x] of m.flips!) b[Math.floor(pos * b.length)]! ^= x;
    return b;
  }
  const at = Math.floor(m.at! * Math.max(0, b.length - 4));
  new DataView(b.buffer).setUint32(at, m.value!, true);
  return b;
}

test('mutated DICOM files give a result or a typed error naming the file (10,800 inputs)', async () => {
  let typed = 0;
  let decoded = 0;
  for (const seed of SEEDS) {
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const bytes = mutate(seed.bytes, m as Mutation);
        try {
          await decodeDicom(bytes, { source: `fuzz/${seed.name}`, maxPixels: 1 << 22 });
          decoded++;
        } catch (e) {
          if (!(e instanceof ClipmedError) || !e.message.startsWith(`fuzz/${seed.name}`)) throw e;
          typed++;
        }
      }),
      { numRuns: 900, seed: 42 },
    );
  }
  assert.equal(typed + decoded, SEEDS.length * 900);
  assert.ok(typed > 1000 && decoded > 1000, `typed errors ${typed}, decoded ${decoded}`);
});
