// Hostile DICOM size claims (issue 15): each file is built here, decoded in a child process, and must give a
// typed error while the child stays far below the memory the claim asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { DecodeError, decodeDicom, LimitError } from '../../src/index.ts';
import { parseDataSet } from '../../src/io/dicom/dataset.ts';
import { DATA } from '../helpers/reference.ts';
import { concat, dicomFile, greyImage, item, type El } from './build-dicom.ts';
import { OUTCOME, runChild } from './child-rss.ts';

/** Peak RSS allowed for a child that refuses a bomb (an idle child with tsx and the codecs takes ~100 MiB). */
const CEILING_MIB = 320;

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** Decode `bytes` in a child; its outcome and peak RSS. */
function decodeInChild(bytes: Uint8Array, maxPixels?: number) {
  return runChild(`
    import { decodeDicom } from '$ROOT/src/io/dicom/index.ts';
    import '$ROOT/src/node/io/dicom-codecs.ts';
    ${OUTCOME}
    const bytes = new Uint8Array(Buffer.from('${b64(bytes)}', 'base64'));
    report(await outcome(async () => (await decodeDicom(bytes, { source: 'bomb.dcm'${maxPixels ? `, maxPixels: ${maxPixels}` : ''} })).data.length));
  `);
}

/** A JPEG 2000 codestream whose SIZ says width x height, with an empty tile (T.800 A.5.1, A.6.1, A.6.4, A.4.2). */
function j2kCodestream(width: number, height: number): Uint8Array {
  const b: number[] = [0xff, 0x4f, 0xff, 0x51, 0, 41, 0, 0];
  const u32 = (v: number) => b.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  [width, height, 0, 0, width, height, 0, 0].forEach(u32);
  b.push(0, 1, 7, 1, 1); // one component, 8 bits unsigned, no subsampling
  b.push(0xff, 0x52, 0, 12, 0, 0, 0, 1, 0, 5, 4, 4, 0, 1); // COD: 5 levels, 5/3 reversible
  b.push(0xff, 0x5c, 0, 19, 0x40, ...new Array(16).fill(0x40)); // QCD: no quantisation
  b.push(0xff, 0x90, 0, 10, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0x93, 0xff, 0xd9); // SOT, SOD, EOC
  return Uint8Array.from(b);
}

/** A baseline JPEG header that claims width x height (SOI, SOF0, then EOI). */
function jpegHeader(width: number, height: number): Uint8Array {
  return Uint8Array.of(0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, height >> 8, height & 255, width >> 8, width & 255, 1, 1, 0x11, 0, 0xff, 0xd9);
}

function encapsulated(frame: Uint8Array, ts: string, rows = 1, columns = 1): Uint8Array {
  const px = concat([item(new Uint8Array(0)), item(frame.length % 2 ? concat([frame, new Uint8Array(1)]) : frame)]);
  return dicomFile(greyImage({ rows, columns, pixels: px, undefinedLength: true }), ts);
}

test('NumberOfFrames 1e9 on a 1x1 image: a LimitError before any frame list is made', () => {
  const bytes = dicomFile(greyImage({ rows: 1, columns: 1, frames: '1000000000', pixels: Uint8Array.of(7, 0) }));
  assert.ok(bytes.length < 700, `${bytes.length} bytes`);
  const r = decodeInChild(bytes);
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  assert.deepEqual((r.result as { error: string }).error, 'LimitError');
  assert.match((r.result as { message: string }).message, /^bomb\.dcm: 1x1x1 x 1000000000 frame\(s\)/);
  assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
});

test('NumberOfFrames under the value limit but past the pixel data: a DecodeError before allocating', () => {
  const bytes = dicomFile(greyImage({ rows: 1, columns: 1, frames: String(2 ** 27), pixels: Uint8Array.of(7, 0) }));
  const r = decodeInChild(bytes);
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  assert.deepEqual(r.result, { error: 'DecodeError', message: 'bomb.dcm: pixel data holds 2 bytes; 134217728 frame(s) of 1x1x1 at 8 bits need 134217728' });
  assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
});

test('NumberOfFrames that is not a positive integer is a DecodeError', async () => {
  for (const frames of ['1.5', '1e20']) {
    const bytes = dicomFile(greyImage({ rows: 1, columns: 1, frames, pixels: Uint8Array.of(7, 0) }));
    await assert.rejects(decodeDicom(bytes, { source: 'f.dcm' }), (e: Error) => e instanceof DecodeError && /NumberOfFrames/.test(e.message), frames);
  }
});

test('encapsulated frames fewer than NumberOfFrames: a DecodeError', async () => {
  const els: El[] = greyImage({ rows: 1, columns: 1, frames: '100000000', pixels: concat([item(new Uint8Array(0)), item(jpegHeader(1, 1))]), undefinedLength: true });
  await assert.rejects(decodeDicom(dicomFile(els, '1.2.840.10008.1.2.4.50'), { source: 'f.dcm', maxPixels: 2 ** 30 }), (e: Error) => e instanceof DecodeError && /100000000 but the encapsulated pixel data has 1 fragment/.test(e.message));
});

test('a JPEG 2000 codestream of 20000x20000 in a 1x1 data set is refused before it is decoded', () => {
  for (const ts of ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.201']) {
    const r = decodeInChild(encapsulated(j2kCodestream(20000, 20000), ts));
    assert.equal(r.status, 0, r.stderr.slice(-1500));
    assert.deepEqual(r.result, { error: 'DecodeError', message: `bomb.dcm: ${ts.endsWith('90') ? 'j2k' : 'htj2k'} codestream header (SIZ) says 20000x20000x1, the data set says 1x1x1` });
    assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
  }
});

test('a JPEG frame header of 60000x60000 in a 1x1 data set is refused before it is decoded (baseline, lossless, JPEG-LS)', async () => {
  for (const [ts, kind] of [['1.2.840.10008.1.2.4.50', 'jpeg'], ['1.2.840.10008.1.2.4.70', 'lossless'], ['1.2.840.10008.1.2.4.80', 'jpegls']]) {
    await assert.rejects(decodeDicom(encapsulated(jpegHeader(60000, 60000), ts!), { source: 'j.dcm' }), (e: Error) => e instanceof DecodeError && e.message === `j.dcm: ${kind} frame header says 60000x60000x1, the data set says 1x1x1`);
  }
});

test('undefined-length pixel data in a native transfer syntax (fo-dicom GH1376) is a DecodeError, not a RangeError', async () => {
  for (const ts of ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2']) {
    const bytes = dicomFile(greyImage({ rows: 4, columns: 4, bits: 16, pixels: concat([item(new Uint8Array(0)), item(Uint8Array.of(1, 2))]), undefinedLength: true }), ts);
    await assert.rejects(decodeDicom(bytes, { source: 'u.dcm' }), (e: Error) => e instanceof DecodeError && /undefined length/.test(e.message) && e.message.startsWith('u.dcm: '), ts);
  }
});

test('the value limit still admits what it should and names how to raise it', async () => {
  const ok = dicomFile(greyImage({ rows: 2, columns: 2, frames: '3', pixels: new Uint8Array(12).fill(5) }));
  assert.equal((await decodeDicom(ok, { source: 'ok.dcm' })).data.length, 12);
  await assert.rejects(decodeDicom(ok, { source: 'ok.dcm', maxPixels: 11 }), (e: Error) => e instanceof LimitError && /maxPixels/.test(e.message));
});

test('a deflated data set that inflates past its bound is a LimitError (the inflater never runs unbounded)', async () => {
  // a Part 10 file in Deflated Explicit VR Little Endian whose deflated body is 8 MiB of zeros
  const bytes = concat([dicomFile([], '1.2.840.10008.1.2.1.99'), deflateRawSync(new Uint8Array(8 << 20))]);
  assert.ok(bytes.length < 64 << 10, `${bytes.length} bytes`);
  assert.throws(() => parseDataSet(bytes, 'dfl.dcm', 1 << 20), (e: Error) => e instanceof LimitError && e.message === 'dfl.dcm: the deflated data set inflates past 1048576 bytes');
  // the real deflated file of the pydicom corpus still decodes under the default bound
  const real = readFileSync(join(DATA, 'dicom/pydicom-test-files/image_dfl.dcm'));
  assert.ok((await decodeDicom(real, { source: 'image_dfl.dcm' })).data.length > 0);
});
