// Bounded inflate for the core (no node:zlib): raw deflate (ZIP entries) and gzip (.nii.gz) through fflate's
// streaming inflater, fed 64 KiB of input at a time so that the output stops at a limit instead of filling
// memory first (at most one chunk's expansion, 1032 x 64 KiB, past it), and CRC-32 as ZIP and gzip define it.
// References: RFC 1951 (deflate), RFC 1952 (gzip member: header, deflate data, CRC-32 and ISIZE trailer).
import { Gunzip, Inflate } from 'fflate';

// Slicing-by-8 tables: table k maps a byte to its CRC contribution k bytes further on.
const CRC_TABLES = (() => {
  const t = new Uint32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  }
  return t;
})();

/**
 * CRC-32 (ISO-HDLC, the ZIP, gzip and PNG checksum) computed with lookup tables, eight bytes a step; `seed` is
 * the CRC of the bytes before (to continue a running checksum).
 * @example crc32Table(new TextEncoder().encode('123456789')) // 0xcbf43926
 */
export function crc32Table(bytes: Uint8Array, seed = 0): number {
  const t = CRC_TABLES;
  let c = ~seed >>> 0;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; i < end8; i += 8) {
    const lo = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    c = t[1792 + (lo & 0xff)]! ^ t[1536 + ((lo >>> 8) & 0xff)]! ^ t[1280 + ((lo >>> 16) & 0xff)]! ^ t[1024 + (lo >>> 24)]!
      ^ t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!;
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** A CRC-32 with the same contract as `crc32Table` (the Node adapter sets zlib's, about five times faster). */
export type Crc32 = (bytes: Uint8Array, seed?: number) => number;

let crcImpl: Crc32 = crc32Table;

/**
 * Sets the CRC-32 that `crc32` uses; it must give crc32Table's values (src/node/native-crc.ts sets zlib's).
 * @example setCrc32((b, seed) => zlib.crc32(b, seed) >>> 0)
 */
export function setCrc32(impl: Crc32): void {
  crcImpl = impl;
}

/**
 * CRC-32 of `bytes` (continuing from `seed`): the native one when the platform set it, otherwise the table version.
 * @example crc32(new TextEncoder().encode('123456789')) // 0xcbf43926
 */
export function crc32(bytes: Uint8Array, seed = 0): number {
  return crcImpl(bytes, seed) >>> 0;
}

const hex = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;

/** Input fed to the inflater per step: bounds how far past the limit one step can inflate (1032 x this). */
const CHUNK = 1 << 16;

/** Output collected up to a limit; one allocation when the expected size is known. */
class Sink {
  buf: Uint8Array;
  length = 0;
  overflow = false;

  constructor(
    readonly limit: number,
    hint: number,
  ) {
    this.buf = new Uint8Array(Math.max(0, Math.min(limit, hint)));
  }

  push(d: Uint8Array): void {
    if (this.overflow || d.length === 0) return;
    if (this.length + d.length > this.limit) {
      this.overflow = true;
      d = d.subarray(0, this.limit - this.length);
    }
    if (this.length + d.length > this.buf.length) {
      const grown = new Uint8Array(Math.min(this.limit, Math.max(this.buf.length * 2, this.length + d.length)));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    this.buf.set(d, this.length);
    this.length += d.length;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** What a bounded inflate gives: the bytes (at most `limit`) and whether the stream held more than that. */
export interface Inflated {
  bytes: Uint8Array;
  /** the stream inflates past `limit`; `bytes` holds its first `limit` bytes and inflating stopped there */
  overflow: boolean;
}

/**
 * Inflate a raw deflate stream (a ZIP entry's data) to at most `limit` bytes. A corrupt or unfinished stream
 * throws (fflate's message); a stream that inflates past `limit` stops there with `overflow` set. `expected` is
 * the size to allocate first (the output grows past it as needed): the limit itself when it is the stream's
 * known size (a ZIP entry), less when the limit is only a bound (a deflated DICOM data set).
 * @example inflateRawBounded(deflated, entry.size).overflow // false
 */
export function inflateRawBounded(data: Uint8Array, limit: number, expected = limit): Inflated {
  const sink = new Sink(limit, expected);
  const inf = new Inflate((chunk) => sink.push(chunk));
  for (let at = 0; !sink.overflow; at += CHUNK) {
    const end = Math.min(data.length, at + CHUNK);
    inf.push(data.subarray(at, end), end === data.length);
    if (end === data.length) break;
  }
  return { bytes: sink.bytes(), overflow: sink.overflow };
}

/**
 * Gunzip to at most `limit` bytes, every member's CRC-32 and ISIZE checked (as zlib and Python's gzip do).
 * With `partial`, `data` may be a prefix of the file: what it inflates to (up to `limit`) is returned without
 * asking for the stream's end or checking trailers. A corrupt stream or trailer throws an Error.
 * @example gunzipBounded(gz, 1 << 20, false).bytes.length // the uncompressed size
 */
export function gunzipBounded(data: Uint8Array, limit: number, partial = false): Inflated {
  // ISIZE (the last member's size mod 2^32) as the first guess of the size
  const isize = data.length >= 18 ? new DataView(data.buffer, data.byteOffset + data.length - 4, 4).getUint32(0, true) : 0;
  // (never more than deflate can expand the input to, whatever the trailer claims)
  const sink = new Sink(limit, partial ? limit : Math.min(isize || 4 * data.length + CHUNK, data.length * 1032));
  let crc = 0;
  let memberStart = 0; // output offset where the current member's data starts
  const checkTrailer = (end: number): void => {
    if (end < 8) throw new Error('gzip trailer missing');
    const dv = new DataView(data.buffer, data.byteOffset + end - 8, 8);
    const size = sink.length - memberStart;
    if (dv.getUint32(0, true) !== crc) throw new Error(`CRC-32 mismatch (stored ${hex(dv.getUint32(0, true))}, computed ${hex(crc)})`);
    if (dv.getUint32(4, true) !== size % 2 ** 32) throw new Error(`length mismatch (stored ${dv.getUint32(4, true)}, inflated ${size})`);
  };
  const g = new Gunzip((chunk) => {
    if (!partial && !sink.overflow) crc = crc32(chunk, crc);
    sink.push(chunk);
  });
  if (!partial) {
    g.onmember = (offset) => {
      // a further member starts at `offset`: the one before ends with its trailer just there
      if (!sink.overflow) checkTrailer(offset);
      crc = 0;
      memberStart = sink.length;
    };
  }
  for (let at = 0; !sink.overflow; at += CHUNK) {
    const end = Math.min(data.length, at + CHUNK);
    g.push(data.subarray(at, end), !partial && end === data.length);
    if (end === data.length) break;
  }
  if (!partial && !sink.overflow) checkTrailer(data.length);
  return { bytes: sink.bytes(), overflow: sink.overflow };
}
