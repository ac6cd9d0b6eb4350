// NIfTI decoding against nibabel 5.0.0: fixtures from test/fixtures/nifti/make_reference.py.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { ClipmedError, DecodeError, LimitError, UnsupportedError, ConfigError } from '../../src/errors.ts';
import fc from 'fast-check';
import { readNifti } from '../../src/io/nifti.ts';
import { niftiSlices, axisCodes } from '../../src/io/nifti-slices.ts';
import { applyWindow } from '../../src/image/window.ts';
import { join } from 'node:path';
import { DATA } from '../helpers/reference.ts';

const FIX = new URL('../fixtures/nifti/', import.meta.url).pathname;
const SHARED = join(DATA, 'nifti') + '/';

interface SliceRef { axis: 'axial' | 'coronal' | 'sagittal'; t: number; index: number; voxelAxis: number; rows: number; columns: number; sha256: string; values?: Array<number | string> }
interface FileRef {
  file: string; version: number; shape: number[]; dtype: string; endianness: string; pixdim: number[]; affine: number[][];
  axcodes: string[]; sha256: string; sum: number; sampleStep: number; sample: Array<number | string>; note?: string; slices?: SliceRef[];
}
const REF = JSON.parse(readFileSync(FIX + 'reference.json', 'utf8')) as { files: FileRef[] };

function pathOf(name: string): string {
  return name.startsWith('shared/') ? SHARED + name.slice(7) : FIX + name;
}
function sha(a: Float32Array): string {
  // float32 little-endian bytes; this machine (and CI) is little-endian, as typed arrays are here
  return createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
}
const num = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

describe('readNifti equals nibabel get_fdata(dtype=float32)', () => {
  for (const ref of REF.files) {
    it(ref.file, (t) => {
      const path = pathOf(ref.file);
      if (!existsSync(path)) assert.fail(`missing ${path} (shared data: ${SHARED})`);
      const vol = readNifti(readFileSync(path), { source: path });
      assert.deepEqual(vol.dims, ref.shape);
      assert.equal(vol.datatype, ref.dtype);
      assert.equal(vol.version, ref.version);
      assert.equal(vol.littleEndian, ref.endianness === 'little');
      // pixdim[0] (qfac) is kept as stored; nibabel rewrites a qfac of 0 to 1 when it loads
      assert.deepEqual(vol.pixdim.slice(1).map(Math.fround), ref.pixdim.slice(1).map(Math.fround));
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) {
        assert.ok(Math.abs(vol.affine[r]![c]! - ref.affine[r]![c]!) <= 1e-6 * (1 + Math.abs(ref.affine[r]![c]!)), `affine[${r}][${c}] ${vol.affine[r]![c]} vs ${ref.affine[r]![c]}`);
      }
      assert.deepEqual(axisCodes(vol.affine), ref.axcodes);
      const sample = Array.from({ length: ref.sample.length }, (_, i) => vol.data[i * ref.sampleStep]!);
      assert.deepEqual(sample, ref.sample.map(num));
      assert.equal(sha(vol.data), ref.sha256);
      if (ref.note) t.diagnostic(ref.note);
    });
  }
});

describe('niftiSlices: radiological display orientation', () => {
  for (const ref of REF.files.filter((f) => f.slices?.length)) {
    it(ref.file, () => {
      const vol = readNifti(readFileSync(pathOf(ref.file)), { source: ref.file });
      for (const s of ref.slices!) {
        const [img] = niftiSlices(vol, { axis: s.axis, index: 'middle', t: s.t });
        assert.ok(img);
        assert.equal(img.meta.index, s.index, `${s.axis} index`);
        assert.equal(img.meta.voxelAxis, s.voxelAxis, `${s.axis} voxel axis`);
        assert.deepEqual([img.rows, img.columns], [s.rows, s.columns], `${s.axis} size`);
        if (s.values) assert.deepEqual(Array.from(img.data), s.values.map(num), `${s.axis} values`);
        assert.equal(sha(img.data), s.sha256, `${s.axis} sha256`);
        // the same slice by voxel axis number
        const [byNumber] = niftiSlices(vol, { axis: s.voxelAxis as 0 | 1 | 2, index: s.index, t: s.t });
        assert.equal(sha(byNumber!.data), s.sha256);
      }
    });
  }

  it('count spreads slices evenly; window defaults and user windows', () => {
    const vol = readNifti(readFileSync(SHARED + 'anatomical.nii'), { source: 'anatomical.nii' });
    const imgs = niftiSlices(vol, { axis: 'axial', count: 5 });
    assert.deepEqual(imgs.map((i) => i.meta.index), [2, 7, 12, 17, 22]);
    assert.equal(imgs[2]!.source, 'anatomical.nii#axial=12');
    // no cal_min/cal_max: the window spans the volume's range, mapped to 0..255 exactly
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of vol.data) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
    const w = imgs[0]!.windows[0]!;
    assert.deepEqual(applyWindow(Float32Array.of(lo, hi), w), Float32Array.of(0, 255));
    assert.deepEqual(niftiSlices(vol, { window: 'brain' })[0]!.windows, [{ center: 40, width: 80 }]);
    // cal_min/cal_max from the header when set (functional.nii: 629.8262 .. 5571.6216)
    const fn = readNifti(readFileSync(SHARED + 'functional.nii'), { source: 'functional.nii' });
    const fw = niftiSlices(fn, { t: 19 })[0]!;
    assert.equal(fw.source, 'functional.nii#axial=1,t=19');
    assert.ok(Math.abs(fw.windows[0]!.center - (629.8262 + 5571.6216) / 2) < 1e-3);
    assert.deepEqual(fw.meta.pixelSpacing, [4, 4]);
  });

  it('rejects bad slice options', () => {
    const vol = readNifti(readFileSync(SHARED + 'functional.nii'), { source: 'functional.nii' });
    assert.throws(() => niftiSlices(vol, { t: 20 }), ConfigError);
    assert.throws(() => niftiSlices(vol, { index: 3 }), ConfigError);
    assert.throws(() => niftiSlices(vol, { count: 4 }), ConfigError);
    assert.throws(() => niftiSlices(vol, { index: 1, count: 2 }), ConfigError);
    const cifti = readNifti(readFileSync(SHARED + 'row_major.dconn.nii'), { source: 'row_major.dconn.nii' });
    assert.deepEqual(cifti.dims, [1, 1, 1, 1, 10, 10]);
    assert.throws(() => niftiSlices(cifti), (e: unknown) => e instanceof UnsupportedError && /more than 4 dimensions/.test(e.message));
  });
});

describe('readNifti errors name the file', () => {
  const good = readFileSync(FIX + 'synthetic/dtype-int16.nii');
  const edit = (f: (v: DataView, b: Uint8Array) => void): Uint8Array => {
    const b = new Uint8Array(good);
    f(new DataView(b.buffer), b);
    return b;
  };
  const fails = (bytes: Uint8Array, type: new (...a: never[]) => Error, re: RegExp, maxVoxels?: number): void => {
    assert.throws(() => readNifti(bytes, { source: 'bad.nii', maxVoxels }), (e: unknown) => {
      assert.ok(e instanceof type, `${String(e)} is not a ${type.name}`);
      assert.match(e.message, /^bad\.nii: /);
      assert.match(e.message, re);
      return true;
    });
  };

  it('bad sizeof_hdr, truncated header and data', () => {
    fails(edit((v) => v.setInt32(0, 349, true)), DecodeError, /sizeof_hdr/);
    fails(good.subarray(0, 200), DecodeError, /truncated header/);
    fails(good.subarray(0, good.length - 1), DecodeError, /truncated data/);
    fails(gzipSync(good).subarray(0, 100), DecodeError, /gzip/);
  });

  it('dims that overflow or exceed maxVoxels, bad dim[0], unknown datatype', () => {
    fails(edit((v) => { v.setInt16(42, 30000, true); v.setInt16(44, 30000, true); v.setInt16(46, 30000, true); v.setInt16(40, 7, true); [48, 50, 52, 54].forEach((o) => v.setInt16(o, 30000, true)); }), DecodeError, /overflow/);
    fails(edit((v) => v.setInt16(42, 30000, true)), LimitError, /maxVoxels 1000/, 1000);
    fails(edit((v) => v.setInt16(40, 9, true)), DecodeError, /dim\[0\] is 9/);
    fails(edit((v) => v.setInt16(44, 0, true)), DecodeError, /dim\[2\] is 0/);
    fails(edit((v) => v.setInt16(70, 77, true)), DecodeError, /unknown datatype code 77/);
    fails(edit((v) => v.setInt16(70, 32, true)), UnsupportedError, /complex64/);
    fails(edit((_, b) => b.set([0x6e, 0x69, 0x31, 0], 344)), UnsupportedError, /\.hdr\/\.img/);
    fails(edit((v) => v.setFloat32(108, 0, true)), DecodeError, /vox_offset/);
  });

  it('maxVoxels is checked before gunzipping all of a large file', () => {
    // a 64 x 64 x 64 uint8 volume of zeros compresses to almost nothing
    const h = edit((v) => { v.setInt16(42, 64, true); v.setInt16(44, 64, true); v.setInt16(46, 64, true); v.setInt16(70, 2, true); });
    const big = new Uint8Array(352 + 64 ** 3);
    big.set(h.subarray(0, 352));
    const vol = readNifti(gzipSync(big), { source: 'big.nii.gz' });
    assert.equal(vol.data.length, 64 ** 3);
    fails(gzipSync(big), LimitError, /maxVoxels 100/, 100);
    // a small header followed by 40 MB of zeros: refused while inflating, not after
    const bomb = new Uint8Array(40 * 1024 * 1024);
    bomb.set(good);
    fails(gzipSync(bomb), LimitError, /inflates past/);
  });
});

describe('readNifti on damaged files', () => {
  it('any truncation or byte change gives a volume or a typed error naming the file', () => {
    const files = ['synthetic/nifti2-be-scaled.nii', 'synthetic/qform-only.nii', 'synthetic/int32-scaled-be.nii'].map((f) => new Uint8Array(readFileSync(FIX + f)));
    fc.assert(
      fc.property(fc.nat(files.length - 1), fc.array(fc.tuple(fc.nat(600), fc.nat(255)), { maxLength: 6 }), fc.nat(800), (which, flips, cut) => {
        const b = files[which]!.slice(0, Math.max(cut, 4));
        for (const [at, v] of flips) if (at < b.length) b[at] = v;
        try {
          const vol = readNifti(b, { source: 'fuzz.nii', maxVoxels: 1e6 });
          assert.equal(vol.data.length, vol.dims.reduce((x, y) => x * y, 1));
        } catch (e) {
          assert.ok(e instanceof ClipmedError, `untyped error: ${String(e)}`);
          assert.match(e.message, /^fuzz\.nii: /);
        }
      }),
      { numRuns: 3000, seed: 20261128 },
    );
  });
});
