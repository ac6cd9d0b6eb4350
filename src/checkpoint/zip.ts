// A small read-only ZIP reader for torch.save archives: central directory, stored and deflated entries,
// ZIP64 sizes and offsets (torch writes them for big files), CRC-32 checked on every entry read.
// Reference: PKWARE APPNOTE.TXT 6.3 (sections 4.3.7 local header, 4.3.12 central directory, 4.3.14-16 ZIP64, 4.5.3 extra field).

import { DecodeError, UnsupportedError } from '../errors.ts';
import { crc32, inflateRawBounded } from '../io/inflate.ts';
import { printable } from './printable.ts';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;

// CRC-32 lives with the bounded inflater (src/io/inflate.ts); re-exported here for the ZIP writers.
export { crc32, crc32Table } from '../io/inflate.ts';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Offset of the local file header in the archive. */
  localOffset: number;
  /** The uncompressed bytes, CRC-checked; a view into the archive for stored entries (no copy). */
  read(): Uint8Array;
}

function u64(dv: DataView, at: number, what: string, file: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`ZIP64 ${what} ${v} is out of range`, { file });
  return Number(v);
}

function findEocd(bytes: Uint8Array, dv: DataView, file: string): number {
  // The EOCD record is 22 bytes plus a comment of at most 65535 bytes, at the very end.
  const stop = Math.max(0, bytes.length - 22 - 0xffff);
  for (let i = bytes.length - 22; i >= stop; i--) {
    if (dv.getUint32(i, true) === SIG_EOCD && i + 22 + dv.getUint16(i + 20, true) === bytes.length) return i;
  }
  throw new DecodeError(`not a ZIP archive (no end-of-central-directory record; ${bytes.length} bytes, truncated?)`, { file });
}

/**
 * Index a ZIP archive held in memory. Entries are read lazily through `entry.read()`.
 * @example
 * const entries = readZip(bytes, 'model.bin');
 * entries.get('archive/version')?.read() // Uint8Array [51, 10] ("3\n")
 */
export function readZip(bytes: Uint8Array, file: string): Map<string, ZipEntry> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 22) throw new DecodeError(`not a ZIP archive (${bytes.length} bytes is shorter than an end-of-central-directory record)`, { file });
  const eocd = findEocd(bytes, dv, file);
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (dv.getUint16(eocd + 4, true) !== 0 || dv.getUint16(eocd + 6, true) !== 0) {
    throw new UnsupportedError('multi-disk (split) ZIP archives are not supported', { file });
  }
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== SIG_ZIP64_LOCATOR) throw new DecodeError('ZIP64 end-of-central-directory locator missing', { file });
    const z64 = u64(dv, loc + 8, 'end-of-central-directory offset', file);
    if (z64 + 56 > bytes.length || dv.getUint32(z64, true) !== SIG_ZIP64_EOCD) throw new DecodeError(`ZIP64 end-of-central-directory record not found at ${z64}`, { file });
    count = u64(dv, z64 + 32, 'entry count', file);
    cdSize = u64(dv, z64 + 40, 'central directory size', file);
    cdOffset = u64(dv, z64 + 48, 'central directory offset', file);
  }
  if (cdOffset + cdSize > bytes.length) {
    throw new DecodeError(`central directory [${cdOffset}, ${cdOffset + cdSize}) lies outside the ${bytes.length}-byte file (truncated?)`, { file });
  }
  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || dv.getUint32(p, true) !== SIG_CENTRAL) {
      throw new DecodeError(`central directory entry ${i} of ${count} at ${p} is damaged (bad signature or past the directory)`, { file });
    }
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdOffset + cdSize) throw new DecodeError(`central directory entry ${i} runs past the directory`, { file });
    const name = utf8.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field: only the fields whose 32-bit value is saturated are present, in this order.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = dv.getUint16(x, true);
      const len = dv.getUint16(x + 2, true);
      if (x + 4 + len > xEnd) throw new DecodeError(`entry '${printable(name)}': extra field runs past its end`, { file });
      if (id === 0x0001) {
        let q = x + 4;
        const take = (what: string): number => {
          if (q + 8 > x + 4 + len) throw new DecodeError(`entry '${printable(name)}': ZIP64 extra field lacks the ${what}`, { file });
          const v = u64(dv, q, what, file); q += 8; return v;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localOffset === 0xffffffff) localOffset = take('local header offset');
      }
      x += 4 + len;
    }
    if (flags & 1) throw new UnsupportedError(`entry '${printable(name)}' is encrypted`, { file });
    if (method !== 0 && method !== 8) throw new UnsupportedError(`entry '${printable(name)}' uses compression method ${method} (only stored and deflated are supported)`, { file });
    if (entries.has(name)) throw new DecodeError(`entry '${printable(name)}' appears twice in the central directory`, { file });
    entries.set(name, makeEntry(bytes, dv, file, { name, method, compressedSize, size, crc32: crc, localOffset }));
    p = end;
  }
  return entries;
}

function makeEntry(bytes: Uint8Array, dv: DataView, file: string, e: Omit<ZipEntry, 'read'>): ZipEntry {
  return {
    ...e,
    read(): Uint8Array {
      const at = e.localOffset;
      if (at + 30 > bytes.length || dv.getUint32(at, true) !== SIG_LOCAL) {
        throw new DecodeError(`entry '${printable(e.name)}': bad local file header at ${at}`, { file });
      }
      const start = at + 30 + dv.getUint16(at + 26, true) + dv.getUint16(at + 28, true);
      if (start + e.compressedSize > bytes.length) {
        throw new DecodeError(`entry '${printable(e.name)}': data [${start}, ${start + e.compressedSize}) runs past the ${bytes.length}-byte file (truncated?)`, { file });
      }
      const raw = bytes.subarray(start, start + e.compressedSize);
      let data: Uint8Array;
      if (e.method === 0) {
        if (e.compressedSize !== e.size) throw new DecodeError(`entry '${printable(e.name)}': stored but sizes differ (${e.compressedSize} vs ${e.size})`, { file });
        data = raw;
      } else {
        // Deflate expands at most 1032:1 (RFC 1951: a 258-byte match per 2 bits at best); a larger claim is a lie,
        // and the inflater stops at the declared size instead of filling memory first and comparing after.
        if (e.size > e.compressedSize * MAX_DEFLATE_RATIO + 1024) {
          throw new DecodeError(`entry '${printable(e.name)}': declares ${e.size} bytes from ${e.compressedSize} deflated, more than deflate can expand to`, { file });
        }
        let out: ReturnType<typeof inflateRawBounded>;
        try {
          out = inflateRawBounded(raw, e.size);
        } catch (cause) {
          throw new DecodeError(`entry '${printable(e.name)}': deflate stream is corrupt (${(cause as Error).message})`, { file, cause });
        }
        if (out.overflow) throw new DecodeError(`entry '${printable(e.name)}': inflates past its declared ${e.size} bytes`, { file });
        data = out.bytes;
        if (data.length !== e.size) throw new DecodeError(`entry '${printable(e.name)}': inflated to ${data.length} bytes, expected ${e.size}`, { file });
      }
      const got = crc32(data);
      if (got !== e.crc32) {
        throw new DecodeError(`entry '${printable(e.name)}': CRC-32 mismatch (stored ${hex(e.crc32)}, computed ${hex(got)})`, { file });
      }
      return data;
    },
  };
}

/** The most a deflate stream can expand (RFC 1951), used to refuse impossible size claims before inflating. */
export const MAX_DEFLATE_RATIO = 1032;

const hex = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;
