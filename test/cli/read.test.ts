// clipmed read on real DICOM files: metadata without PHI, .npy values, windowed PNG, bad files in a batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { applyWindow, decodeDicom, readNpy, toBytes, WINDOW_PRESETS } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { DATA, tempDir } from '../helpers/reference.ts';

const clipmed = cli();
const ct = join(DATA, 'dicom/pydicom-test-files/CT_small.dcm');

test('read --json prints the metadata, patient identifiers only with --phi', () => {
  const r = clipmed('read', ct, '--json');
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  assert.deepEqual([m.modality, m.rows, m.columns, m.frames, m.rescaleIntercept, m.transferSyntaxUID], ['CT', 128, 128, 1, -1024, '1.2.840.10008.1.2.1']);
  assert.equal(m.phi, undefined);
  assert.doesNotMatch(r.stdout, /CompressedSamples|patientName/);
  const p = JSON.parse(clipmed('read', ct, '--json', '--phi').stdout);
  assert.equal(typeof p.phi.patientName, 'string');
});

test('read --npy writes the modality-LUT values; --png what a reader sees through the window', async () => {
  const dir = tempDir();
  const npy = join(dir, 'ct.npy');
  const png = join(dir, 'ct.png');
  const r = clipmed('read', ct, '--npy', npy, '--png', png, '--window', 'lung');
  assert.equal(r.code, 0, r.stderr);
  const a = readNpy(readFileSync(npy), npy);
  assert.deepEqual(a.shape, [1, 128, 128, 1]);
  const ref = await decodeDicom(readFileSync(ct), { source: ct });
  assert.deepEqual(Array.from(a.data as Float32Array), Array.from(ref.data));
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height, meta.format], [128, 128, 'png']);
  const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  // the PNG is the values through the lung window (-600 / 1500, DICOM LINEAR)
  assert.deepEqual(Array.from(data), Array.from(toBytes(applyWindow(ref.data, WINDOW_PRESETS.lung))));
  assert.ok(new Set(data).size > 50);
});

test('read: a batch goes on past bad files, lists them and exits with 1', () => {
  const dir = tempDir();
  const bad = join(dir, 'truncated.dcm');
  writeFileSync(bad, readFileSync(ct).subarray(0, 2000));
  const r = clipmed('read', ct, bad, join(DATA, 'dicom/pydicom-data/emri_small.dcm'), '--json');
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.ok(out.images.length >= 1);
  assert.equal(out.failures.length, 1);
  assert.match(out.failures[0].input, /truncated\.dcm/);
  assert.match(r.stderr, /truncated\.dcm: DecodeError: .*truncated\.dcm/);
});
