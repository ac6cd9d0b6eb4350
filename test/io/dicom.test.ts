// Every file of the three DICOM corpora in ../shared/data/dicom against pydicom 2.3's decoding
// (test/fixtures/dicom/make_reference.py): exact for lossless data, typed errors for what is refused,
// and each known difference listed with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipmedError, decodeDicom, DecodeError, UnsupportedError } from '../../src/index.ts';
import { DATA } from '../helpers/reference.ts';

interface Ref { status: string; transferSyntax?: string; shape?: number[]; sha256?: string; lossy?: boolean; sampleIndex?: number[]; sample?: number[]; mean?: number }
const REF = JSON.parse(readFileSync(new URL('../fixtures/dicom/reference.json', import.meta.url), 'utf8')).files as Record<string, Ref>;
const ROOT = join(DATA, 'dicom');

/** Where clipmed and pydicom differ, and why; each is checked for what clipmed does instead. */
const KNOWN: Record<string, string> = {
  'pydicom-data/OBXXXX1A_expb.dcm': 'big endian palette LUT data: pydicom reads the OW words little-endian (np.frombuffer), clipmed in the data set byte order',
  'pydicom-data/OBXXXX1A_expb_2frame.dcm': 'as OBXXXX1A_expb.dcm',
  'pydicom-data/liver_j2k.dcm': '1-bit samples in JPEG 2000: Pillow (pydicom\'s decoder here) scales them to 0/128, clipmed keeps the stored 0/1',
  'pydicom-data/liver_nonbyte_aligned_j2k.dcm': 'as liver_j2k.dcm',
  'pydicom-data/693_J2KR.dcm': 'signedness of a reversible JPEG 2000 stream: clipmed takes the codestream\'s unsigned samples',
  'dicomParser-testImages/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.80.dcm': 'pydicom (GDCM) returns all zeros for this fragmented multi-frame JPEG-LS file; clipmed decodes the frames',
  'dicomParser-testImages/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.81.dcm': 'as the .80 file (near-lossless)',
  'pydicom-test-files/SC_jpeg_no_color_transform.dcm': 'an RGB JPEG without colour transform (Adobe APP14): the libjpeg-turbo build applies YCbCr to RGB',
  'pydicom-test-files/SC_rgb_jpeg_lossy_gdcm.dcm': 'as SC_jpeg_no_color_transform.dcm',
  'pydicom-test-files/SC_rgb_jpeg.dcm': 'dicom-parser refuses its data set (buffer overrun) where pydicom reads it',
  'pydicom-test-files/JPEG2000-embedded-sequence-delimiter.dcm': 'a sequence delimiter inside the JPEG 2000 fragments: dicom-parser ends the pixel data there',
};

const floatSha = (a: Float32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

test('DICOM corpora agree with pydicom', async () => {
  const tally = { exact: 0, lossy: 0, refused: 0, known: 0, notImages: 0 };
  const wrong: string[] = [];
  for (const [name, ref] of Object.entries(REF)) {
    const file = join(ROOT, name);
    let img;
    try {
      img = await decodeDicom(readFileSync(file), { source: name });
    } catch (e) {
      if (!(e instanceof ClipmedError)) wrong.push(`${name}: untyped ${(e as Error)?.name}: ${(e as Error)?.message}`);
      else if (!(e as Error).message.startsWith(name)) wrong.push(`${name}: the error does not name the file: ${(e as Error).message}`);
      else if (ref.status !== 'ok') tally.notImages++;
      else if (KNOWN[name]) tally.known++;
      else if (e instanceof UnsupportedError && /12-bit JPEG|float pixel data|segmented palette/.test(e.message)) tally.refused++;
      else wrong.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    if (ref.status !== 'ok') { tally.notImages++; continue; } // pydicom could not, clipmed could
    const shape = [img.frames, img.rows, img.columns, img.samplesPerPixel];
    if (JSON.stringify(shape) !== JSON.stringify(ref.shape)) { wrong.push(`${name}: shape [${shape}] vs [${ref.shape}]`); continue; }
    if (KNOWN[name]) { tally.known++; continue; }
    if (floatSha(img.data) === ref.sha256) { tally.exact++; continue; }
    if (ref.lossy) {
      // JPEG decoders may differ by a level or two; measured here: 0
      const worst = Math.max(...ref.sampleIndex!.map((i, k) => Math.abs(img.data[i]! - ref.sample![k]!)));
      if (worst <= 2) { tally.lossy++; continue; }
      wrong.push(`${name}: lossy data differs by ${worst}`);
    } else wrong.push(`${name}: lossless data differs from pydicom`);
  }
  assert.deepEqual(wrong, []);
  // at this writing: 150 files equal to the bit (JPEG lossless included), 3 lossy ones within tolerance,
  // 7 refused (12-bit JPEG, float pixel data, segmented palettes), 11 known differences
  assert.ok(tally.exact >= 150, JSON.stringify(tally));
  assert.ok(tally.lossy >= 1 && tally.refused <= 7, JSON.stringify(tally));
});

test('DICOM: metadata, PHI only on request, frames and limits', async () => {
  const ct = readFileSync(join(ROOT, 'pydicom-test-files/CT_small.dcm'));
  const img = await decodeDicom(ct, { source: 'CT_small.dcm' });
  assert.equal(img.meta.modality, 'CT');
  assert.equal(img.meta.phi, undefined);
  assert.equal(img.meta.rescaleSlope, 1);
  assert.deepEqual([img.rows, img.columns, img.frames, img.samplesPerPixel], [128, 128, 1, 1]);
  const withPhi = await decodeDicom(ct, { source: 'CT_small.dcm', phi: true });
  assert.equal(typeof (withPhi.meta.phi as Record<string, unknown>).patientName, 'string');
  await assert.rejects(decodeDicom(ct, { source: 'CT_small.dcm', maxPixels: 1000 }), /over the limit of 1000/);
  await assert.rejects(decodeDicom(ct, { source: 'CT_small.dcm', frame: 3 }), DecodeError);
  const multi = readFileSync(join(ROOT, 'pydicom-data/emri_small.dcm'));
  const all = await decodeDicom(multi, { source: 'emri_small.dcm' });
  const one = await decodeDicom(multi, { source: 'emri_small.dcm', frame: 2 });
  const per = all.rows * all.columns;
  assert.deepEqual(Array.from(one.data), Array.from(all.data.subarray(2 * per, 3 * per)));
});

test('VOI LUT Sequence: the LUT output equals pydicom apply_voi_lut, and display uses it', async () => {
  const { applyVoiLut, toDisplayRaster } = await import('../../src/index.ts');
  const ref = JSON.parse(readFileSync(new URL('../fixtures/dicom/voi_lut.json', import.meta.url), 'utf8')) as { file: string; sha256: string; sample: number[] };
  const img = await decodeDicom(readFileSync(join(ROOT, ref.file)), { source: ref.file });
  assert.ok(img.voiLut);
  const out = applyVoiLut(img.data, img.voiLut!);
  assert.equal(floatSha(out), ref.sha256);
  const shown = toDisplayRaster(img);
  const scaled = applyVoiLut(img.data, img.voiLut!, 255);
  assert.equal(shown.data[1000], Math.round(scaled[1000]!));
  assert.equal(shown.data.reduce((m, v) => Math.max(m, v), 0), 255);
});
