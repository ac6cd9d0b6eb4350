// NIfTI-1 and NIfTI-2 headers: field layout, datatypes, and the voxel-to-world affine.
// Spec: nifti1.h and nifti2.h from the NIfTI Data Format Working Group (nifti.nimh.nih.gov), which give the
// byte offsets used below. Where the spec leaves a choice, we do what nibabel does when it loads a file, so
// that our arrays and affines equal nibabel's (checked by test/fixtures/nifti/make_reference.py).
import { DecodeError, LimitError, UnsupportedError } from '../errors.ts';

/** Datatypes clipmed reads, by NIfTI code. */
export const NIFTI_DATATYPES = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
  1024: { name: 'int64', bytes: 8 },
  1280: { name: 'uint64', bytes: 8 },
} as const satisfies Record<number, { name: string; bytes: number }>;

export type NiftiDatatype = (typeof NIFTI_DATATYPES)[keyof typeof NIFTI_DATATYPES]['name'];

/** Valid NIfTI datatypes that have no single real value per voxel; nibabel's get_fdata() refuses them too. */
const UNSUPPORTED_DATATYPES: Record<number, string> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** bytes in the fixed header: 348 or 540 */
  headerSize: number;
  /** dim[1..dim[0]], the array shape */
  dims: number[];
  /** all 8 pixdim values as stored; pixdim[0] is qfac */
  pixdim: number[];
  datatypeCode: number;
  datatype: NiftiDatatype;
  bytesPerVoxel: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  calMin: number;
  calMax: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  srow: [number[], number[], number[]];
  xyztUnits: number;
  intentCode: number;
  description: string;
}

const N2_MAGIC = [0x6e, 0x2b, 0x32, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]; // "n+2\0\r\n\032\n"

function text(bytes: Uint8Array, start: number, length: number): string {
  let s = '';
  for (let i = start; i < start + length && bytes[i] !== 0; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/**
 * Parse the fixed part of a NIfTI-1 or NIfTI-2 header (the bytes must already be gunzipped).
 * @example parseNiftiHeader(bytes, 'anatomical.nii', 2 ** 28).dims // [33, 41, 25]
 */
export function parseNiftiHeader(bytes: Uint8Array, file: string, maxVoxels: number): NiftiHeader {
  if (bytes.length < 4) throw new DecodeError(`NIfTI: ${bytes.length} bytes, too short for a header`, { file });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // sizeof_hdr is 348 (NIfTI-1) or 540 (NIfTI-2); reading it in the wrong byte order gives neither.
  const le = view.getInt32(0, true);
  const be = view.getInt32(0, false);
  const size = le === 348 || le === 540 ? le : be === 348 || be === 540 ? be : 0;
  if (size === 0) throw new DecodeError(`NIfTI: sizeof_hdr is ${le} (little-endian) / ${be} (big-endian), expected 348 or 540`, { file });
  const littleEndian = size === le;
  if (bytes.length < size) throw new DecodeError(`NIfTI: truncated header, ${bytes.length} of ${size} bytes`, { file });
  return size === 348 ? parseV1(bytes, view, littleEndian, file, maxVoxels) : parseV2(bytes, view, littleEndian, file, maxVoxels);
}

function parseV1(bytes: Uint8Array, v: DataView, le: boolean, file: string, maxVoxels: number): NiftiHeader {
  const magic = text(bytes, 344, 4);
  if (magic === 'ni1') throw new UnsupportedError('NIfTI-1 header/image pair (.hdr/.img, magic "ni1"): give a single-file .nii or .nii.gz', { file });
  if (magic !== 'n+1') throw new UnsupportedError(`NIfTI-1: magic is ${JSON.stringify(magic)}, expected "n+1" (Analyze 7.5 files are not read)`, { file });
  const f32 = (o: number): number => v.getFloat32(o, le);
  const i16 = (o: number): number => v.getInt16(o, le);
  const dim = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
  const pixdim = Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i));
  return finish(
    {
      version: 1,
      littleEndian: le,
      headerSize: 348,
      datatypeCode: i16(70),
      voxOffset: f32(108),
      sclSlope: f32(112),
      sclInter: f32(116),
      calMax: f32(124),
      calMin: f32(128),
      xyztUnits: bytes[123]!,
      intentCode: i16(68),
      description: text(bytes, 148, 80),
      qformCode: i16(252),
      sformCode: i16(254),
      quatern: [f32(256), f32(260), f32(264)],
      qoffset: [f32(268), f32(272), f32(276)],
      srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c))) as NiftiHeader['srow'],
      pixdim,
    },
    dim.map(BigInt),
    file,
    maxVoxels,
  );
}

function parseV2(bytes: Uint8Array, v: DataView, le: boolean, file: string, maxVoxels: number): NiftiHeader {
  const magic = Array.from(bytes.subarray(4, 12));
  if (magic[0] === 0x6e && magic[1] === 0x69 && magic[2] === 0x32) {
    throw new UnsupportedError('NIfTI-2 header/image pair (magic "ni2"): give a single-file .nii or .nii.gz', { file });
  }
  if (magic.some((b, i) => b !== N2_MAGIC[i])) throw new DecodeError(`NIfTI-2: bad magic ${JSON.stringify(text(bytes, 4, 8))}, expected "n+2"`, { file });
  const f64 = (o: number): number => v.getFloat64(o, le);
  const i32 = (o: number): number => v.getInt32(o, le);
  const dim = Array.from({ length: 8 }, (_, i) => v.getBigInt64(16 + 8 * i, le));
  const voxOffset = v.getBigInt64(168, le);
  return finish(
    {
      version: 2,
      littleEndian: le,
      headerSize: 540,
      datatypeCode: v.getInt16(12, le),
      voxOffset: voxOffset > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(voxOffset),
      sclSlope: f64(176),
      sclInter: f64(184),
      calMax: f64(192),
      calMin: f64(200),
      xyztUnits: i32(500),
      intentCode: i32(504),
      description: text(bytes, 240, 80),
      qformCode: i32(344),
      sformCode: i32(348),
      quatern: [f64(352), f64(360), f64(368)],
      qoffset: [f64(376), f64(384), f64(392)],
      srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f64(400 + 32 * r + 8 * c))) as NiftiHeader['srow'],
      pixdim: Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i)),
    },
    dim,
    file,
    maxVoxels,
  );
}

type Partial = Omit<NiftiHeader, 'dims' | 'datatype' | 'bytesPerVoxel'>;

function finish(h: Partial, dim: bigint[], file: string, maxVoxels: number): NiftiHeader {
  const ndim = Number(dim[0]!);
  if (!(ndim >= 1 && ndim <= 7)) throw new DecodeError(`NIfTI: dim[0] is ${ndim}, expected 1 to 7 dimensions`, { file });
  const dims = dim.slice(1, ndim + 1);
  const bad = dims.findIndex((d) => d < 1n);
  if (bad >= 0) throw new DecodeError(`NIfTI: dim[${bad + 1}] is ${dims[bad]}, expected at least 1`, { file });
  const known = (NIFTI_DATATYPES as Record<number, { name: NiftiDatatype; bytes: number }>)[h.datatypeCode];
  if (!known) {
    const what = UNSUPPORTED_DATATYPES[h.datatypeCode];
    if (what) throw new UnsupportedError(`NIfTI datatype ${h.datatypeCode} (${what}) has no single real value per voxel`, { file });
    throw new DecodeError(`NIfTI: unknown datatype code ${h.datatypeCode}`, { file });
  }
  // Count in BigInt so that a corrupt header cannot overflow the size check before we allocate.
  const voxels = dims.reduce((a, b) => a * b, 1n);
  const shape = dims.join(' x ');
  if (voxels * BigInt(known.bytes) > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DecodeError(`NIfTI: dims ${shape} overflow (${voxels} voxels of ${known.bytes} bytes)`, { file });
  }
  if (voxels > BigInt(maxVoxels)) throw new LimitError(`NIfTI: ${voxels} voxels (${shape}) exceed maxVoxels ${maxVoxels}`, { file });
  if (!Number.isInteger(h.voxOffset) || h.voxOffset < h.headerSize + 4) {
    throw new DecodeError(`NIfTI: vox_offset ${h.voxOffset} is not an integer of at least ${h.headerSize + 4} (single-file .nii)`, { file });
  }
  return { ...h, dims: dims.map(Number), datatype: known.name, bytesPerVoxel: known.bytes };
}

/** Which affine nibabel's `img.affine` uses: sform if its code is set, else qform, else a scaled base affine. */
export type AffineSource = 'sform' | 'qform' | 'base';

/**
 * The voxel-to-world (RAS+) affine that nibabel reports as `img.affine` (Nifti1Header.get_best_affine):
 * sform when sform_code > 0, else qform when qform_code > 0, else voxel sizes with the origin at the
 * centre and x flipped (the Analyze convention).
 * @example niftiAffine(header).affine[0] // [-2, 0, 0, 32]
 */
export function niftiAffine(h: NiftiHeader, file: string): { affine: number[][]; source: AffineSource } {
  if (h.sformCode > 0) return { affine: [...h.srow.map((r) => [...r]), [0, 0, 0, 1]], source: 'sform' };
  if (h.qformCode > 0) return { affine: qformAffine(h, file), source: 'qform' };
  const shape = [...h.dims.slice(0, 3), 1, 1, 1].slice(0, 3);
  const zooms = [...h.pixdim.slice(1, 1 + Math.min(3, h.dims.length)), 1, 1, 1].slice(0, 3);
  zooms[0] = -zooms[0]!;
  const affine = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (r === c ? zooms[r]! : 0)).concat(-((shape[r]! - 1) / 2) * zooms[r]!));
  return { affine: [...affine, [0, 0, 0, 1]], source: 'base' };
}

function qformAffine(h: NiftiHeader, file: string): number[][] {
  const [b, c, d] = h.quatern;
  // The stored quaternion omits a = sqrt(1 - b^2 - c^2 - d^2); rounding can make the sum a little over 1.
  const a2 = 1 - (b * b + c * c + d * d);
  const tolerance = h.version === 1 ? 3 * 2 ** -23 : 3 * 2 ** -52;
  if (a2 < -tolerance) throw new DecodeError(`NIfTI qform: quaternion (${b}, ${c}, ${d}) has norm above 1`, { file });
  const a = a2 > 0 ? Math.sqrt(a2) : 0;
  const rot = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const vox = h.pixdim.slice(1, 4);
  if (vox.some((x) => x < 0)) throw new DecodeError(`NIfTI qform: pixdim[1..3] = ${vox.join(', ')} must not be negative`, { file });
  // qfac (pixdim[0]) flips the third axis; the spec says any value other than -1 means 1.
  if (h.pixdim[0] === -1) vox[2] = -vox[2]!;
  return [0, 1, 2].map((r) => [0, 1, 2].map((col) => rot[r]![col]! * vox[col]!).concat(h.qoffset[r]!)).concat([[0, 0, 0, 1]]);
}
