// Small NIfTI-1 and NIfTI-2 files built in memory (nifti1.h / nifti2.h offsets), for the hostile-input and
// fuzz tests: a header, the 4-byte extension flag, then the voxels at vox_offset.

export interface NiftiSpec {
  version?: 1 | 2;
  dims: number[];
  /** NIfTI datatype code: 2 uint8, 4 int16, 16 float32, 64 float64, 512 uint16 */
  datatype: number;
  bitpix: number;
  voxOffset?: number;
  slope?: number;
  inter?: number;
  qform?: boolean;
  bigEndian?: boolean;
  data: Uint8Array;
}

export function niftiFile(s: NiftiSpec): Uint8Array {
  const v2 = s.version === 2;
  const hdr = v2 ? 540 : 348;
  const off = s.voxOffset ?? hdr + 4;
  const out = new Uint8Array(Math.max(off, hdr + 4) + s.data.length);
  const dv = new DataView(out.buffer);
  const le = !s.bigEndian;
  const dim = [s.dims.length, ...s.dims, ...new Array(7 - s.dims.length).fill(1)];
  if (v2) {
    dv.setInt32(0, 540, le);
    out.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    dv.setInt16(12, s.datatype, le);
    dv.setInt16(14, s.bitpix, le);
    dim.forEach((d, i) => dv.setBigInt64(16 + 8 * i, BigInt(d), le));
    [1, 1, 1, 1, 1, 1, 1, 1].forEach((p, i) => dv.setFloat64(104 + 8 * i, p, le));
    dv.setBigInt64(168, BigInt(off), le);
    dv.setFloat64(176, s.slope ?? 1, le);
    dv.setFloat64(184, s.inter ?? 0, le);
    dv.setInt32(344, s.qform ? 1 : 0, le);
  } else {
    dv.setInt32(0, 348, le);
    dim.forEach((d, i) => dv.setInt16(40 + 2 * i, d, le));
    dv.setInt16(70, s.datatype, le);
    dv.setInt16(72, s.bitpix, le);
    [1, 1, 1, 1, 1, 1, 1, 1].forEach((p, i) => dv.setFloat32(76 + 4 * i, p, le));
    dv.setFloat32(108, off, le);
    dv.setFloat32(112, s.slope ?? 1, le);
    dv.setFloat32(116, s.inter ?? 0, le);
    dv.setInt16(252, s.qform ? 1 : 0, le);
    out.set([0x6e, 0x2b, 0x31, 0], 344);
  }
  out.set(s.data, off);
  return out;
}
