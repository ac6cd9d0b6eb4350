// DICOM series as volumes against dcm2niix's NIfTI conversions of the same series
// (test/fixtures/series/make_series.py): every voxel of the reference is found at the same world (RAS)
// position in clipmed's volume with the same value; gaps, duplicates and mixed orientations are typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNifti } from '../../src/io/nifti.ts';
import { readSeriesDir, readSeriesVolume } from '../../src/node/io/series-files.ts';
import { SeriesError, seriesVolumes, type DicomVolume } from '../../src/io/series.ts';
import { DATA } from '../helpers/reference.ts';

const FIX = new URL('../fixtures/series/', import.meta.url).pathname;
const DIRS = join(DATA, 'dicom/pydicom-test-files/dicomdirtests');

/** Inverse of a 4x4 affine whose last row is [0 0 0 1]. */
function invert(a: number[][]): number[][] {
  const m = a.slice(0, 3).map((r) => r.slice(0, 3));
  const det = m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) - m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) + m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!);
  const c = (r: number, k: number) => {
    const rows = [0, 1, 2].filter((x) => x !== r);
    const cols = [0, 1, 2].filter((x) => x !== k);
    return ((r + k) % 2 ? -1 : 1) * (m[rows[0]!]![cols[0]!]! * m[rows[1]!]![cols[1]!]! - m[rows[0]!]![cols[1]!]! * m[rows[1]!]![cols[0]!]!);
  };
  const inv = [0, 1, 2].map((r) => [0, 1, 2].map((k) => c(k, r) / det));
  const t = [0, 1, 2].map((r) => -inv[r]!.reduce((s, v, k) => s + v * a[k]![3]!, 0));
  return [...inv.map((r, i) => [...r, t[i]!]), [0, 0, 0, 1]];
}

/** Compare a volume with a NIfTI file voxel by voxel through the two affines (positions to 0.01 voxel). */
function sameVoxels(vol: DicomVolume, niiPath: string, turn?: (affine: number[][]) => number[][]): void {
  const ref = readNifti(readFileSync(niiPath), { source: niiPath });
  if (turn) ref.affine = turn(ref.affine);
  const [I, J, K] = ref.dims as [number, number, number];
  assert.equal(I * J * K, vol.data.length, 'voxel count');
  const back = invert(vol.affine);
  const m = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => [0, 1, 2, 3].reduce((s, x) => s + back[r]![x]! * ref.affine[x]![c]!, 0)));
  // the reference's voxel axes map onto ours by a permutation with flips: each row of m is one +-1 and a shift
  for (const row of m) {
    const big = row.slice(0, 3).filter((v) => Math.abs(v) > 1e-3);
    assert.equal(big.length, 1, `axes do not line up: ${JSON.stringify(m)}`);
    assert.ok(Math.abs(Math.abs(big[0]!) - 1) < 1e-3, `voxel sizes differ: ${JSON.stringify(m)}`);
    assert.ok(Math.abs(row[3]! - Math.round(row[3]!)) < 1e-2, `grids are offset: ${JSON.stringify(m)}`);
  }
  const [VI, VJ] = vol.dims;
  let worst = 0;
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < J; j++) {
      for (let i = 0; i < I; i++) {
        const [x, y, z] = m.map((r) => Math.round(r[0]! * i + r[1]! * j + r[2]! * k + r[3]!)) as [number, number, number];
        const v = vol.data[x + VI * (y + VJ * z)]!;
        worst = Math.max(worst, Math.abs(v - ref.data[i + I * (j + J * k)]!));
      }
    }
  }
  assert.equal(worst, 0, `${niiPath}: voxel values differ by up to ${worst}`);
}

test('a real CT series reads as the volume dcm2niix makes of it', async () => {
  const vol = await readSeriesVolume(join(DIRS, '98892001/CT5N'));
  assert.deepEqual(vol.dims, [16, 16, 5]);
  assert.deepEqual(vol.spacing.map((v) => +v.toFixed(4)), [0.4883, 0.4883, 2.5]);
  assert.equal(vol.orientation, 'LPS');
  // instance numbers 6..10 run against the slice positions (8.76 .. -1.24 mm): sorted by position
  assert.deepEqual(vol.slices.map((s) => s.instanceNumber), [10, 9, 8, 7, 6]);
  sameVoxels(vol, join(FIX, 'ct5n.nii.gz'));
});

test('an oblique series with per-slice rescale and shuffled instance numbers equals its dcm2niix conversion and the NIfTI it came from', async () => {
  const vol = await readSeriesVolume(join(FIX, 'anatomical'));
  assert.deepEqual(vol.dims, [33, 41, 25]);
  sameVoxels(vol, join(FIX, 'anatomical.nii.gz'));
  // the script turned the volume 20 degrees about z and 10 about x before writing it as DICOM
  const rad = Math.PI / 180;
  const rz = [[Math.cos(20 * rad), -Math.sin(20 * rad), 0], [Math.sin(20 * rad), Math.cos(20 * rad), 0], [0, 0, 1]];
  const rx = [[1, 0, 0], [0, Math.cos(10 * rad), -Math.sin(10 * rad)], [0, Math.sin(10 * rad), Math.cos(10 * rad)]];
  const r = [0, 1, 2].map((i) => [0, 1, 2].map((j) => [0, 1, 2].reduce((t, k) => t + rz[i]![k]! * rx[k]![j]!, 0)));
  const turn = (a: number[][]) => [...[0, 1, 2].map((i) => [0, 1, 2, 3].map((j) => [0, 1, 2].reduce((t, k) => t + r[i]![k]! * a[k]![j]!, 0))), a[3]!];
  sameVoxels(vol, join(DATA, 'nifti/anatomical.nii'), turn);
});

test('a multi-frame enhanced CT reads as a volume, one slice per frame', async () => {
  const vol = await readSeriesVolume(join(DATA, 'dicom/dicomParser-testImages/encapsulated/multi-frame/CT0012.explicit_little_endian.dcm'));
  assert.deepEqual(vol.dims, [512, 512, 2]);
  assert.deepEqual(vol.slices.map((s) => s.frame).sort(), [0, 1]);
  sameVoxels(vol, join(FIX, 'ct0012.nii.gz'));
});

test('gaps, duplicates, mixed orientations and other series are typed errors or reported skips', async () => {
  // CT2: slices at -99.5, 103.0, 104.3, 105.5 mm: a gap
  await assert.rejects(readSeriesVolume(join(DIRS, '77654033/CT2')), (e: unknown) => e instanceof SeriesError && e.problem === 'gap' && /202\.500 mm/.test(e.message));
  // MR700: a radial acquisition, every slice turned
  await assert.rejects(readSeriesVolume(join(DIRS, '98892003/MR700')), (e: unknown) => e instanceof SeriesError && e.problem === 'orientation');
  // the same slice twice
  const file = join(DIRS, '98892001/CT5N/2062');
  const bytes = readFileSync(file);
  const dup = await seriesVolumes([{ source: 'a', bytes }, { source: 'b', bytes }]);
  assert.equal(dup.volumes.length, 0);
  assert.ok(dup.skipped[0]!.error instanceof SeriesError && (dup.skipped[0]!.error as SeriesError).problem === 'duplicate', dup.skipped[0]!.error.message);
  // a folder of several series: each volume or its reason, and a README that is not DICOM
  const all = await readSeriesDir(join(DIRS, '98892001'));
  assert.deepEqual(all.volumes.map((v) => v.dims), [[16, 16, 5]]);
  assert.ok(all.skipped.some((s) => s.error instanceof SeriesError && s.error.problem === 'orientation'), JSON.stringify(all.skipped.map((s) => s.error.message)));
  // a middle slice moved 2 mm sideways (its ImagePositionPatient edited in place), and every slice drifting: a tilt
  const ct5n = ['2062', '2392', '2693', '3023', '3353'].map((f) => ({ source: f, bytes: new Uint8Array(readFileSync(join(DIRS, '98892001/CT5N', f))) }));
  const moved = ct5n.map((i) => ({ ...i, bytes: i.bytes.slice() }));
  const at = Buffer.from(moved[2]!.bytes).indexOf('-72.199997');
  moved[2]!.bytes.set(Buffer.from('-70.199997'), at);
  const r1 = await seriesVolumes(moved);
  assert.ok(r1.skipped[0]?.error instanceof SeriesError && (r1.skipped[0].error as SeriesError).problem === 'geometry', r1.skipped[0]?.error.message);
  assert.match(r1.skipped[0]!.error.message, /2693 lies 2\.000 mm from where slice 2/);
  const tilted = ct5n.map((i, k) => {
    const b = i.bytes.slice();
    b.set(Buffer.from(`-7${k}.199997`), Buffer.from(b).indexOf('-72.199997'));
    return { ...i, bytes: b };
  });
  const r2 = await seriesVolumes(tilted);
  assert.ok(r2.skipped[0]?.error instanceof SeriesError && (r2.skipped[0].error as SeriesError).problem === 'tilt', r2.skipped[0]?.error.message);
  // an image without geometry (a CR) is not a slice
  await assert.rejects(readSeriesVolume(join(DIRS, '77654033/CR1')), (e: unknown) => e instanceof SeriesError && e.problem === 'geometry');
});
