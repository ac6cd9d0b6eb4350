// NIfTI-1 / NIfTI-2 volumes (.nii, .nii.gz) as float arrays equal to nibabel's `img.get_fdata(dtype=np.float32)`.
// Spec: nifti1.h / nifti2.h (nifti.nimh.nih.gov). Header fields and the affine are in nifti-header.ts; display
// slices are in nifti-slices.ts.
import { DecodeError, LimitError } from '../errors.ts';
import { gunzipBounded } from './inflate.ts';
import { niftiAffine, parseNiftiHeader, type AffineSource, type NiftiDatatype, type NiftiHeader } from './nifti-header.ts';

export interface NiftiOptions {
  /** file path or URL, used in error messages and `source` */
  source: string;
  /** refuse volumes with more voxels than this before allocating (default 2^28, 1 GiB as float32) */
  maxVoxels?: number;
}

/** A NIfTI volume. `data[i + I*(j + J*(k + K*t))]` is nibabel's `get_fdata()[i, j, k, t]` (i fastest, as in the file). */
export interface NiftiVolume {
  source: string;
  version: 1 | 2;
  littleEndian: boolean;
  /** the array shape, nibabel's `img.shape` */
  dims: number[];
  /** the 8 stored pixdim values (pixdim[0] is qfac, pixdim[1..] the voxel sizes) */
  pixdim: number[];
  /** 4x4 voxel-to-world (RAS+, mm) matrix, rows; nibabel's `img.affine` */
  affine: number[][];
  affineSource: AffineSource;
  datatype: NiftiDatatype;
  datatypeCode: number;
  /** scl_slope/scl_inter as applied, or null when the file has no scaling (slope 0 or not finite, as nibabel) */
  scaling: { slope: number; inter: number } | null;
  /** cal_min/cal_max display range from the header (both 0 when unset) */
  calMin: number;
  calMax: number;
  description: string;
  /** values after scaling, float32 */
  data: Float32Array;
}

export const DEFAULT_MAX_VOXELS = 2 ** 28;

/** Largest vox_offset read from a .nii.gz (header extensions of 64 MiB; real ones are a few KB). */
export const MAX_GZIP_VOX_OFFSET = 64 * 1024 * 1024;

/** nibabel ignores bytes after the voxels; allow this many when inflating before calling it a bomb. */
const GZIP_TRAILING_SLACK = 16 * 1024 * 1024;

/**
 * True when the bytes start with a NIfTI-1/NIfTI-2 header in either byte order (gzip is not looked into).
 * @example looksLikeNifti(readFileSync('anatomical.nii')) // true
 */
export function looksLikeNifti(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset, 4);
  return [348, 540].includes(v.getInt32(0, true)) || [348, 540].includes(v.getInt32(0, false));
}

/**
 * Decode a .nii or .nii.gz file.
 * @example
 * const vol = readNifti(readFileSync('anatomical.nii'), { source: 'anatomical.nii' });
 * vol.dims // [33, 41, 25]; vol.datatype // 'int16'; vol.affine[0] // [-2, 0, 0, 32]
 */
export function readNifti(input: Uint8Array, options: NiftiOptions): NiftiVolume {
  const file = options.source;
  const maxVoxels = options.maxVoxels ?? DEFAULT_MAX_VOXELS;
  let bytes = input;
  let h: NiftiHeader;
  if (input[0] === 0x1f && input[1] === 0x8b) {
    // Check the header (and so maxVoxels) on a partial inflate before inflating the whole file.
    h = parseNiftiHeader(gunzip(input.subarray(0, 65536), file, 65536, true), file, maxVoxels);
    // Everything before vox_offset must be inflated too: a header that puts the voxels gigabytes in would make
    // a few MB of gzip take gigabytes of memory for nothing (extensions are KB in practice).
    if (h.voxOffset > MAX_GZIP_VOX_OFFSET) {
      throw new LimitError(`NIfTI: vox_offset ${h.voxOffset} puts the voxels past the first ${MAX_GZIP_VOX_OFFSET} bytes; a gzip file would have to inflate all of them first`, { file });
    }
    bytes = gunzip(input, file, h.voxOffset + h.dims.reduce((a, b) => a * b, 1) * h.bytesPerVoxel + GZIP_TRAILING_SLACK, false);
  } else {
    h = parseNiftiHeader(bytes, file, maxVoxels);
  }
  const voxels = h.dims.reduce((a, b) => a * b, 1);
  const end = h.voxOffset + voxels * h.bytesPerVoxel;
  if (bytes.length < end) {
    throw new DecodeError(`NIfTI: truncated data, ${h.dims.join(' x ')} ${h.datatype} needs bytes ${h.voxOffset}..${end}, file has ${bytes.length}`, { file });
  }
  const { affine, source: affineSource } = niftiAffine(h, file);
  const scaling = readScaling(h, file);
  return {
    source: file,
    version: h.version,
    littleEndian: h.littleEndian,
    dims: h.dims,
    pixdim: h.pixdim,
    affine,
    affineSource,
    datatype: h.datatype,
    datatypeCode: h.datatypeCode,
    scaling,
    calMin: h.calMin,
    calMax: h.calMax,
    description: h.description,
    data: decodeVoxels(bytes, h, voxels, scaling),
  };
}

function gunzip(bytes: Uint8Array, file: string, maxOutputLength: number, partial: boolean): Uint8Array {
  let out: ReturnType<typeof gunzipBounded>;
  try {
    // partial: what a prefix of the stream inflates to (up to the limit), without asking for its end
    out = gunzipBounded(bytes, maxOutputLength, partial);
  } catch (err) {
    throw new DecodeError(`NIfTI: gzip data is corrupt (${(err as Error).message})`, { file, cause: err });
  }
  if (out.overflow && !partial) {
    throw new LimitError(`NIfTI: gzip data inflates past ${maxOutputLength} bytes, more than the header's voxels need`, { file });
  }
  return out.bytes;
}

function readScaling(h: NiftiHeader, file: string): NiftiVolume['scaling'] {
  // nibabel: a slope of 0 or a non-finite slope means "no scaling", and then the intercept is ignored too.
  if (h.sclSlope === 0 || !Number.isFinite(h.sclSlope)) return null;
  if (!Number.isFinite(h.sclInter)) throw new DecodeError(`NIfTI: scl_slope ${h.sclSlope} with non-finite scl_inter ${h.sclInter}`, { file });
  if (h.sclSlope === 1 && h.sclInter === 0) return null;
  return { slope: h.sclSlope, inter: h.sclInter };
}

/** Datatypes whose product with a float32 scalar numpy computes in float64 (array promotion rules). */
const WIDE = new Set<NiftiDatatype>(['int32', 'uint32', 'int64', 'uint64', 'float64']);

function decodeVoxels(bytes: Uint8Array, h: NiftiHeader, n: number, scaling: NiftiVolume['scaling']): Float32Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset + h.voxOffset, n * h.bytesPerVoxel);
  const le = h.littleEndian;
  const read = reader(h.datatype, v, le);
  const out = new Float32Array(n);
  if (!scaling) {
    // int64 goes int64 -> float64 -> float32 in nibabel too, so Number() then rounding matches it.
    for (let i = 0; i < n; i++) out[i] = read(i);
    return out;
  }
  // nibabel's get_fdata(dtype=float32) first rounds slope and intercept to float32, then multiplies in the
  // promoted type of (data, float32): float32 for 8/16-bit integers and float32 data, float64 otherwise.
  const slope = Math.fround(scaling.slope);
  const inter = Math.fround(scaling.inter);
  if (WIDE.has(h.datatype)) {
    for (let i = 0; i < n; i++) out[i] = read(i) * slope + inter;
  } else {
    for (let i = 0; i < n; i++) out[i] = Math.fround(read(i) * slope) + inter;
  }
  return out;
}

function reader(type: NiftiDatatype, v: DataView, le: boolean): (i: number) => number {
  switch (type) {
    case 'uint8': return (i) => v.getUint8(i);
    case 'int8': return (i) => v.getInt8(i);
    case 'int16': return (i) => v.getInt16(2 * i, le);
    case 'uint16': return (i) => v.getUint16(2 * i, le);
    case 'int32': return (i) => v.getInt32(4 * i, le);
    case 'uint32': return (i) => v.getUint32(4 * i, le);
    case 'float32': return (i) => v.getFloat32(4 * i, le);
    case 'float64': return (i) => v.getFloat64(8 * i, le);
    case 'int64': return (i) => Number(v.getBigInt64(8 * i, le));
    case 'uint64': return (i) => Number(v.getBigUint64(8 * i, le));
  }
}
