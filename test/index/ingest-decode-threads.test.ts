// The index ingest decodes in the decode pool's worker threads: with 0 (the calling thread), 1 and 2 threads the
// same rows (paths, frames, modality, body part, UIDs, content hashes), the same vectors to the bit, and the same
// failures and skips in input order, for a mix of good and bad files; a row's vector is the library's embedding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ClipModel, decodeImageFile, openIndex } from '../../src/index.ts';
import { DATA, FIXTURES, isolateCache, maxRelError, stableFailure, tempDir } from '../helpers/reference.ts';

isolateCache();
const CXR = join(DATA, 'pneumonia-cxr/test/NORMAL');
const PYDICOM = join(DATA, 'dicom/pydicom-test-files');
const MR = join(DATA, 'dicom/pydicom-data/emri_small.dcm'); // 10 frames
const CT = join(DATA, 'dicom/dicomParser-testImages/CT1_UNC.explicit_little_endian.dcm');

test('index ingest through 0, 1 and 2 decode threads: the same rows, vectors, failures and skips', async () => {
  const dir = tempDir();
  const folder = join(dir, 'folder');
  mkdirSync(folder);
  const xrays = readdirSync(CXR).filter((f) => f.endsWith('.jpeg')).sort().slice(0, 9).map((f) => join(CXR, f));
  writeFileSync(join(folder, 'notes.txt'), 'not an image'); // skipped: not an image, in a folder
  writeFileSync(join(folder, 'cut.jpeg'), readFileSync(xrays[0]!).subarray(0, 3000));
  const u16 = Buffer.alloc(32 * 24 * 2);
  for (let i = 0; i < 32 * 24; i++) u16.writeUInt16LE((i * 977) % 65536, 2 * i);
  await sharp(u16, { raw: { width: 32, height: 24, channels: 1 } }).toColourspace('grey16').png().toFile(join(folder, 'deep.png'));
  const notImage = join(dir, 'named.txt');
  writeFileSync(notImage, 'not an image either'); // named directly: a failure
  const sources = [
    xrays[0]!, join(PYDICOM, 'MR_truncated.dcm'), MR, folder, xrays[1]!, join(PYDICOM, 'rtplan.dcm'), CT, notImage,
    join(DATA, 'nifti/anatomical.nii'), join(PYDICOM, 'J2K_pixelrep_mismatch.dcm'), ...xrays.slice(2),
  ];
  const model = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  try {
    const runs = [];
    for (const decodeThreads of [0, 1, 2]) {
      const index = await openIndex(join(dir, `db-${decodeThreads}`));
      try {
        // committed batches of 5 inputs: the failures, the skip and the multi-frame DICOM fall in different batches
        const r = await index.add(model, sources, { decodeThreads, frames: true, phi: true, window: 'lung', batchSize: 5 });
        const table = await index.pickTable();
        const rows = (await table.table.query().select(['path', 'source', 'frame', 'modality', 'body_part', 'study_uid', 'instance_uid', 'content_hash', 'vector']).toArray())
          .map((x): Record<string, unknown> & { vector: number[] } => ({ ...(x as Record<string, unknown>), vector: Array.from(x.vector as Float32Array) }))
          .sort((a, b) => (String(a.path) < String(b.path) ? -1 : 1));
        runs.push({ report: r, rows });
      } finally {
        index.close();
      }
    }
    const [main] = runs;
    assert.equal(main!.report.written, 9 + 10 + 1 + 1 + 1); // X-rays, MR frames, CT, NIfTI slice, the J2K file
    assert.equal(main!.rows.length, main!.report.written);
    assert.deepEqual(main!.report.failures.map((f) => [f.input, f.error.split(':')[0]]), [
      [join(PYDICOM, 'MR_truncated.dcm'), 'DecodeError'],
      [join(folder, 'cut.jpeg'), 'DecodeError'],
      [join(folder, 'deep.png'), 'ConfigError'],
      [join(PYDICOM, 'rtplan.dcm'), 'DecodeError'],
      [notImage, 'UnsupportedError'],
    ]);
    assert.deepEqual(main!.report.skipped.map((s) => s.input), [join(folder, 'notes.txt')]);
    assert.equal(main!.rows.find((r) => r.path === `${MR}#frame=9`)?.body_part, 'HEAD');
    for (const other of runs.slice(1)) {
      assert.deepEqual(other.report.failures.map(stableFailure), main!.report.failures.map(stableFailure));
      assert.deepEqual(other.report.skipped, main!.report.skipped);
      assert.deepEqual(other.rows.map(({ vector: _v, ...meta }) => meta), main!.rows.map(({ vector: _v, ...meta }) => meta));
      other.rows.forEach((r, i) => assert.ok(r.vector.every((v, d) => Object.is(v, main!.rows[i]!.vector[d])), `${r.path}: vector differs from the calling thread's`));
    }
    // a JPEG's row is the library's normalised embedding of the PIL-equivalent raster
    const want = await model.embedRasters([await decodeImageFile(xrays[4]!)], { normalize: true });
    assert.ok(maxRelError(main!.rows.find((r) => r.path === xrays[4])!.vector, want.embeddings, model.embedDim) < 1e-6);
  } finally {
    await model.release();
  }
});
