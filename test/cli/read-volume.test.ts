// clipmed read SERIES_DIR --volume --npy out.npy --json: the contract checked from outside, against
// dcm2niix's conversion of the same series (test/fixtures/series/make_series.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, readNifti } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { DATA, tempDir } from '../helpers/reference.ts';

const clipmed = cli();
const CT5N = join(DATA, 'dicom/pydicom-test-files/dicomdirtests/98892001/CT5N');

test('read SERIES_DIR --volume --npy --json: affine, spacing, orientation and voxels as dcm2niix has them', () => {
  const npy = join(tempDir(), 'volume.npy');
  const r = clipmed('read', CT5N, '--volume', '--npy', npy, '--json');
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  assert.deepEqual(m.shape, [5, 16, 16]);
  assert.equal(m.orientation, 'LPS');
  assert.deepEqual(m.spacing.map((v: number) => +v.toFixed(4)), [0.4883, 0.4883, 2.5]);
  assert.equal(m.slices.length, 5);
  const arr = readNpy(readFileSync(npy), npy);
  assert.deepEqual(arr.shape, [5, 16, 16]);
  // dcm2niix keeps i and k and flips j (rows): its affine is ours with the second axis reversed
  const ref = readNifti(readFileSync(new URL('../fixtures/series/ct5n.nii.gz', import.meta.url)), { source: 'ct5n.nii.gz' });
  assert.deepEqual(ref.affine[0]!.map((v) => +v.toFixed(3)), m.affine[0].map((v: number) => +v.toFixed(3)));
  assert.deepEqual(ref.affine[1]![1]!.toFixed(3), (-m.affine[1][1]).toFixed(3));
  for (let k = 0; k < 5; k++) {
    for (let j = 0; j < 16; j++) {
      for (let i = 0; i < 16; i++) assert.equal(arr.data[i + 16 * (j + 16 * k)], ref.data[i + 16 * (15 - j + 16 * k)]);
    }
  }
});

test('read --volume: a series with a gap is a typed error naming the slices, non-zero exit, nothing on stdout', () => {
  const r = clipmed('read', join(DATA, 'dicom/pydicom-test-files/dicomdirtests/77654033/CT2'), '--volume', '--json');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /SeriesError: .*CT2: slice spacing 202\.500 mm between .*17106 and .*17136/);
  assert.equal(r.stdout, '');
});
