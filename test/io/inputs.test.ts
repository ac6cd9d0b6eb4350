// loadInputs: folders (recursive, sorted), files and dicomweb URLs, decoded by sniffing, failures collected.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ConfigError, DecodeError, UnsupportedError } from '../../src/errors.ts';
import { loadInputs, planInputs, sniffFormat, type DicomDecoder } from '../../src/node/io/inputs.ts';
import { loadEntryWith, type InputPlatform, type LoadedInputs } from '../../src/io/inputs.ts';
import { readRaster } from '../../src/node/io/raster.ts';
import type { DecodedImage } from '../../src/io/types.ts';
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.ts';
import { DATA } from '../helpers/reference.ts';

const NIFTI = new URL('../fixtures/nifti/synthetic/', import.meta.url).pathname;
const CT = join(DATA, 'dicom/dicomParser-testImages/CT1_UNC.explicit_little_endian.dcm');

/** Stands in for decodeDicom here, so that this test checks routing only; it records what it was given. */
function fakeDicom(calls: Array<{ source: string; length: number }>): DicomDecoder {
  return async (bytes, { source }) => {
    calls.push({ source, length: bytes.length });
    const img: DecodedImage = { source, rows: 1, columns: 1, frames: 1, samplesPerPixel: 1, data: Float32Array.of(bytes.length), photometric: 'MONOCHROME2', windows: [], invert: false, meta: {} };
    return img;
  };
}

describe('loadInputs', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'clipmed-inputs-'));
    mkdirSync(join(dir, 'b-sub'));
    const g16 = await sharp(Uint16Array.from([0, 1000, 4000, 65535]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    writeFileSync(join(dir, 'c.png'), g16);
    copyFileSync(join(NIFTI, 'permuted.nii'), join(dir, 'a-volume.nii'));
    copyFileSync(join(NIFTI, 'oblique-sform.nii.gz'), join(dir, 'b-sub', 'z.nii.gz'));
    copyFileSync(CT, join(dir, 'b-sub', 'ct')); // no extension: sniffed from DICM
    writeFileSync(join(dir, 'README.txt'), 'not an image\n');
    writeFileSync(join(dir, 'd-broken.nii'), readFileSync(join(NIFTI, 'dtype-int16.nii')).subarray(0, 400));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('expands folders recursively in sorted order and sniffs each file', async () => {
    const calls: Array<{ source: string; length: number }> = [];
    const r = await loadInputs([dir, join(dir, 'missing.png')], { decodeDicom: fakeDicom(calls), nifti: { axis: 'axial', count: 2 } });
    assert.deepEqual(r.images.map((x) => x.image.source), [
      join(dir, 'a-volume.nii#axial=1,t=0'),
      join(dir, 'a-volume.nii#axial=4,t=0'),
      join(dir, 'b-sub', 'ct'),
      join(dir, 'b-sub', 'z.nii.gz#axial=0'),
      join(dir, 'b-sub', 'z.nii.gz#axial=2'),
      join(dir, 'c.png'),
    ]);
    assert.ok(r.images.every((x) => x.input === dir));
    assert.deepEqual(calls, [{ source: join(dir, 'b-sub', 'ct'), length: readFileSync(CT).length }]);
    const png = r.images.at(-1)!.image;
    assert.deepEqual(Array.from(png.data), [0, 1000, 4000, 65535]);
    assert.deepEqual(r.skipped, [{ input: join(dir, 'README.txt'), reason: 'not a DICOM, NIfTI, PNG, JPEG or TIFF file' }]);
    assert.deepEqual(r.failures.map((f) => [f.input, f.error.constructor.name]), [
      [join(dir, 'd-broken.nii'), 'DecodeError'],
      [join(dir, 'missing.png'), 'ConfigError'],
    ]);
    assert.ok(r.failures[0]!.error instanceof DecodeError && r.failures[0]!.error.message.includes('d-broken.nii: NIfTI: truncated data'));
    assert.ok(r.failures[1]!.error instanceof ConfigError);
  });

  it('a named file that is not an image is a failure, and a window applies to every image', async () => {
    const r = await loadInputs([join(dir, 'README.txt'), join(dir, 'c.png'), join(dir, 'b-sub', 'ct')], { window: '1000,2000', decodeDicom: fakeDicom([]) });
    assert.ok(r.failures[0]!.error instanceof UnsupportedError);
    assert.deepEqual(r.images.map((x) => x.image.windows), [[{ center: 1000, width: 2000 }], [{ center: 1000, width: 2000 }]]);
  });

  it('sniffs DICOM before TIFF (this CT preamble is a TIFF header)', () => {
    const ct = readFileSync(CT);
    assert.equal(ct.subarray(0, 2).toString(), 'II');
    assert.equal(sniffFormat(ct), 'dicom');
    assert.equal(sniffFormat(ct.subarray(132)), 'dicom'); // bare data set, group 0002 first
    assert.equal(sniffFormat(readFileSync(join(NIFTI, 'nifti2-be-scaled.nii'))), 'nifti');
    assert.equal(sniffFormat(Uint8Array.from([0x49, 0x49, 0x2a, 0])), 'raster');
    assert.equal(sniffFormat(new TextEncoder().encode('hello world')), undefined);
  });

  it("the core's loadEntryWith reads and decodes rasters through the platform it is given, with loadInputs' results", async () => {
    const inputs = [dir, join(dir, 'missing.png')];
    const { entries } = await planInputs(inputs);
    const files = new Map(entries.filter((e) => e.kind === 'file').map((e) => [e.source, new Uint8Array(readFileSync(e.source))]));
    const rasters: string[] = [];
    const platform: InputPlatform = {
      readFile: async (path) => files.get(path) ?? Promise.reject(new Error('not in memory')),
      decodeRaster: async (bytes, o) => (rasters.push(o.source), readRaster(bytes, o)),
    };
    const core: LoadedInputs = { images: [], failures: [], skipped: [] };
    for (const e of entries) await loadEntryWith(platform, core, e, { nifti: { axis: 'axial', count: 2 } });
    const node = await loadInputs(inputs, { nifti: { axis: 'axial', count: 2 } });
    assert.equal(core.images.length, 6);
    assert.deepEqual(core.images.map((x) => [x.input, x.image.source, x.image.windows]), node.images.map((x) => [x.input, x.image.source, x.image.windows]));
    core.images.forEach((x, i) => assert.deepEqual(x.image.data, node.images[i]!.image.data, x.image.source));
    assert.deepEqual(rasters, [join(dir, 'c.png')]);
    assert.deepEqual(core.skipped, node.skipped);
    assert.deepEqual(core.failures.map((f) => [f.input, f.error.message]), node.failures.map((f) => [f.input, f.error.message]));
  });
});

describe('loadInputs with dicomweb URLs (Orthanc)', () => {
  let orthanc: OrthancServer;
  let study = '';
  before(async () => {
    orthanc = await startOrthanc();
    study = (await orthanc.upload(new Uint8Array(readFileSync(CT)))).study;
  });
  after(async () => {
    await orthanc?.stop();
  });

  it('fetches each instance and hands its bytes to the DICOM decoder; a bad URL is a failure', async () => {
    const calls: Array<{ source: string; length: number }> = [];
    const url = `${orthanc.dicomWeb.replace(/^http/, 'dicomweb+http')}/studies/${study}`;
    const r = await loadInputs([url, `${url}.999`], { decodeDicom: fakeDicom(calls) });
    assert.equal(r.images.length, 1);
    assert.equal(r.images[0]!.input, url);
    const rest = r.images[0]!.image.source.slice(url.length);
    assert.ok(r.images[0]!.image.source.startsWith(url));
    assert.match(rest, /^\/series\/[0-9.]+\/instances\/[0-9.]+$/);
    assert.deepEqual(calls.map((c) => c.length), [readFileSync(CT).length]);
    assert.equal(r.failures.length, 1);
    assert.equal(r.failures[0]!.input, `${url}.999`);
    assert.equal(r.failures[0]!.error.name, 'NetworkError');
  });
});
