// Careless and hostile inputs to the readers (issue 15): a chunked DICOMweb body with no end, manifests whose rows
// would silently change an answer, and folders holding symlinks, FIFOs and names that are not UTF-8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../src/checkpoint/zip.ts';
import { ConfigError, LimitError, UnsupportedError } from '../../src/errors.ts';
import { decodeImageFile } from '../../src/node/image-decode.ts';
import { readRaster } from '../../src/node/io/raster.ts';
import { loadInputs } from '../../src/node/io/inputs.ts';
import { readManifest } from '../../src/node/manifest-files.ts';
import { dicomFile, greyImage } from './build-dicom.ts';
import { OUTCOME, runChild } from './child-rss.ts';

const CEILING_MIB = 320;

test('a chunked DICOMweb body is abandoned once it passes maxBytes, not buffered whole (child peak RSS checked)', () => {
  const r = runChild(`
    import { createServer } from 'node:http';
    import { DicomWebClient } from '$ROOT/src/io/dicomweb.ts';
    ${OUTCOME}
    let sent = 0;
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' }); // chunked: no length
      const chunk = Buffer.alloc(1 << 20, 1);
      const pump = () => { while (!res.destroyed && sent < 1 << 30) { sent += chunk.length; if (!res.write(chunk)) return void res.once('drain', pump); } if (sent >= 1 << 30) res.end(); };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const root = 'http://127.0.0.1:' + (server.address() as { port: number }).port + '/dicom-web';
    const client = new DicomWebClient(root, { maxBytes: 32 << 20 });
    const out = await outcome(() => client.retrieveInstance('1.2', '1.3', '1.4'));
    server.closeAllConnections();
    server.close();
    report({ ...(out as object), sentMiB: Math.round(sent / 2 ** 20) });
  `);
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  const out = r.result as { error: string; message: string; sentMiB: number };
  assert.equal(out.error, 'LimitError');
  assert.match(out.message, /\/studies\/1\.2\/series\/1\.3\/instances\/1\.4: response passed maxBytes 33554432 after \d+ bytes \(it gave no Content-Length\)/);
  assert.ok(out.sentMiB < 512, `the server got to send ${out.sentMiB} MiB`);
  assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
});

// ---- manifests and folders ----

const image = (v: number) => dicomFile(greyImage({ rows: 2, columns: 2, pixels: new Uint8Array(4).fill(v) }));

function folderWith(files: Record<string, Uint8Array | string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'clipmed-inputs-'));
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  return dir;
}

test('a manifest row with an empty image cell, or naming a folder, is a ConfigError naming the rows (it loaded the whole folder)', async () => {
  const dir = folderWith({ 'a.dcm': image(1), 'b.dcm': image(2), 'sub/c.dcm': image(3) });
  writeFileSync(join(dir, 'm.csv'), 'image,label\na.dcm,normal\n,pneumonia\nsub,pneumonia\nb.dcm,pneumonia\n');
  await assert.rejects(readManifest(join(dir, 'm.csv')), (e: Error) => e instanceof ConfigError && e.message === `${join(dir, 'm.csv')}: 2 row(s) cannot be used as they are: row 3: the image cell is empty; row 4: sub is a folder, not an image file`);
});

test('one image under two labels is a ConfigError; the same label twice is kept', async () => {
  const dir = folderWith({ 'a.dcm': image(1), 'b.dcm': image(2) });
  writeFileSync(join(dir, 'm.csv'), 'image,label\na.dcm,normal\nb.dcm,normal\n./a.dcm,pneumonia\n');
  await assert.rejects(readManifest(join(dir, 'm.csv')), (e: Error) => e instanceof ConfigError && /row 4: \.\/a\.dcm is labelled 'pneumonia', and 'normal' on line 2/.test(e.message));
  writeFileSync(join(dir, 'ok.csv'), 'image,label\na.dcm,normal\na.dcm,normal\nmissing.dcm,normal\n');
  const m = await readManifest(join(dir, 'ok.csv'));
  assert.deepEqual([m.rows.length, m.missing.length], [2, 1]);
});

test('symlinked files inside a folder are read; broken links and link loops are listed as skipped', async () => {
  const blobs = folderWith({ 'blob1': image(5), 'blob2': image(6) });
  const dir = folderWith({ 'real.dcm': image(4) });
  symlinkSync(join(blobs, 'blob1'), join(dir, 'linked.dcm'));
  symlinkSync('../nowhere.dcm', join(dir, 'broken.dcm'));
  mkdirSync(join(dir, 'snap'));
  symlinkSync(join(blobs, 'blob2'), join(dir, 'snap', 'x.dcm'));
  symlinkSync(dir, join(dir, 'snap', 'loop'));
  const r = await loadInputs([dir]);
  assert.deepEqual(r.images.map((i) => i.image.source), [join(dir, 'linked.dcm'), join(dir, 'real.dcm'), join(dir, 'snap', 'x.dcm')]);
  assert.deepEqual(r.images.map((i) => i.image.data[0]), [5, 4, 6]);
  assert.deepEqual(r.skipped, [
    { input: join(dir, 'broken.dcm'), reason: 'broken symbolic link (to ../nowhere.dcm)' },
    { input: join(dir, 'snap', 'loop'), reason: `a link to ${dir}, a folder already read (a loop)` },
  ]);
  assert.deepEqual(r.failures, []);
});

test('a FIFO or a name that is not UTF-8 inside a folder is listed as skipped; a FIFO named directly is an UnsupportedError, not a hang', async () => {
  const dir = folderWith({ 'a.dcm': image(1) });
  execFileSync('mkfifo', [join(dir, 'pipe')]);
  writeFileSync(Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x62, 0xff, 0xfe, 0x2e, 0x64, 0x63, 0x6d])]), image(2));
  const r = await loadInputs([dir, join(dir, 'pipe')]);
  assert.deepEqual(r.images.map((i) => i.image.source), [join(dir, 'a.dcm')]);
  assert.deepEqual(r.skipped.map((s) => s.reason), ['the name is not valid UTF-8 (bytes 62fffe2e64636d); rename it to read it', 'not a regular file (a FIFO)']);
  assert.equal(r.failures.length, 1);
  assert.ok(r.failures[0]!.error instanceof UnsupportedError);
  assert.equal(r.failures[0]!.error.message, `${join(dir, 'pipe')}: not a regular file or folder (a FIFO)`);
});

// ---- the default pixel limit ----

/** A 1-bit greyscale PNG of width x height, all black: KBs of file that decode to width x height bytes or more. */
function flatPng(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale
  const idat = deflateSync(Buffer.alloc((1 + Math.ceil(width / 8)) * height), { level: 9 }); // filter byte 0, black rows
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]));
}

test('a small PNG of 12000 x 12000 flat pixels is refused by the default limit before decoding (child peak RSS checked); the limit can be raised', async () => {
  const png = flatPng(12000, 12000);
  assert.ok(png.length < 100_000, `${png.length} bytes`);
  const dir = mkdtempSync(join(tmpdir(), 'clipmed-png-'));
  writeFileSync(join(dir, 'flat.png'), png);
  const r = runChild(`
    import { readRaster } from '$ROOT/src/node/io/raster.ts';
    import { decodeImageFile } from '$ROOT/src/node/image-decode.ts';
    ${OUTCOME}
    const file = process.env.PNG!;
    report([await outcome(async () => (await readRaster(file)).rows), await outcome(async () => (await decodeImageFile(file)).height)]);
  `, { PNG: join(dir, 'flat.png') });
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  const [raster, decoded] = r.result as Array<{ error: string; message: string }>;
  assert.equal(raster!.error, 'LimitError');
  assert.match(raster!.message, /12000 x 12000 x 1 pages exceed maxPixels 33554432 \(raise it with maxPixels \/ --max-pixels\)/);
  assert.equal(decoded!.error, 'LimitError');
  assert.match(decoded!.message, /12000 x 12000 pixels exceed maxPixels 33554432/);
  assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);

  writeFileSync(join(dir, 'small.png'), flatPng(300, 200));
  assert.equal((await readRaster(join(dir, 'small.png'))).rows, 200);
  await assert.rejects(readRaster(join(dir, 'small.png'), { maxPixels: 50_000 }), (e: Error) => e instanceof LimitError);
  assert.equal((await decodeImageFile(join(dir, 'small.png'), { maxPixels: 60_000 })).height, 200);
});
