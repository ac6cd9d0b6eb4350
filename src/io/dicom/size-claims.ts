// Every size a DICOM file claims, checked before anything is allocated from it: NumberOfFrames x Rows x
// Columns x SamplesPerPixel against the value limit and against the bytes the pixel data holds, and the size a
// compressed frame's own header gives (JPEG SOF, JPEG-LS SOF55, JPEG 2000 SIZ) against the data set's, so a
// 1x1 data set cannot carry a 20000x20000 codestream into a decoder.
// References: PS3.5 8.2 and A.4 (encapsulation only for compressed syntaxes), ITU-T T.81 B.2.2 (frame header),
// T.87 (SOF55), ITU-T T.800 A.5.1 (SIZ).
import { DecodeError, LimitError } from '../../errors.ts';
import { TS, type DataSet, type ImageAttributes } from './dataset.ts';

const NATIVE = new Set<string>(Object.values(TS));

/**
 * Refuse a data set whose size claims are impossible or over `limit` values, before any frame list or buffer is
 * made from them. `framesWanted` is how many frames will be decoded (1 when one frame is asked for).
 * @example checkSizeClaims(ds, { ...a, frames: 1e9 }, 1e9, 2 ** 28, 'x.dcm') // throws LimitError
 */
export function checkSizeClaims(ds: DataSet, a: ImageAttributes, framesWanted: number, limit: number, file: string): void {
  if (!Number.isSafeInteger(a.frames) || a.frames < 1) throw new DecodeError(`NumberOfFrames (0028,0008) ${a.frames} is not a positive integer`, { file });
  const photometric = a.photometric.toUpperCase();
  const outSamples = photometric === 'PALETTE COLOR' ? 3 : a.samplesPerPixel;
  const values = a.rows * a.columns * outSamples * framesWanted;
  if (values > limit) {
    throw new LimitError(`${a.rows}x${a.columns}x${outSamples} x ${framesWanted} frame(s) = ${values} values, over the limit of ${limit} (raise it with maxPixels / --max-pixels)`, { file });
  }
  const el = ds.elements.x7fe00010 ?? ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
  if (!el) return;
  const float = !ds.elements.x7fe00010;
  const native = float || NATIVE.has(a.transferSyntax);
  if (native && (el.encapsulatedPixelData || el.hadUndefinedLength)) {
    // fo-dicom GH1376: read as native, the fragments' item tags become pixels and the reads run past the end
    throw new DecodeError(`pixel data (7FE0,0010) has undefined length (encapsulated), which only compressed transfer syntaxes use; ${a.transferSyntax} is a native one`, { file });
  }
  if (native) {
    const bits = float ? (ds.elements.x7fe00008 ? 32 : 64) : a.bitsAllocated;
    // native YBR_FULL_422 stores two samples per pixel (PS3.3 C.7.6.3.1.2)
    const samples = float ? 1 : photometric === 'YBR_FULL_422' ? 2 : a.samplesPerPixel;
    const need = Math.ceil((a.rows * a.columns * samples * bits * a.frames) / 8);
    if (el.length < need) {
      throw new DecodeError(`pixel data holds ${el.length} bytes; ${a.frames} frame(s) of ${a.rows}x${a.columns}x${samples} at ${bits} bits need ${need}`, { file });
    }
    return;
  }
  const fragments = el.fragments?.length ?? 0;
  if (a.frames > 1 && a.frames > fragments) {
    throw new DecodeError(`NumberOfFrames ${a.frames} but the encapsulated pixel data has ${fragments} fragment(s); each frame needs at least one`, { file });
  }
}

/** Frame size from a JPEG (T.81 SOFn) or JPEG-LS (T.87 SOF55) header, read without decoding. */
export function jpegFrameHeader(b: Uint8Array): { width: number; height: number; components: number } | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return undefined;
    const m = b[p + 1]!;
    if (m === 0xff) { p++; continue; } // fill byte
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { p += 2; continue; } // markers without a length
    if (m === 0xda || m === 0xd9) return undefined; // scan or end before any frame header
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    const sof = (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7;
    if (sof) {
      if (p + 10 > b.length) return undefined;
      return { height: (b[p + 5]! << 8) | b[p + 6]!, width: (b[p + 7]! << 8) | b[p + 8]!, components: b[p + 9]! };
    }
    p += 2 + len;
  }
  return undefined;
}

/**
 * A JPEG-family frame (baseline, extended, lossless, JPEG-LS) whose header names another size than the data set's
 * is refused before a decoder allocates for it.
 */
export function checkJpegHeader(bytes: Uint8Array, a: ImageAttributes, kind: string, file: string): void {
  const h = jpegFrameHeader(bytes);
  if (!h) throw new DecodeError(`${kind} frame has no readable frame header (SOF) before its first scan`, { file });
  // JPEG-LS may store Y = 0 and give the height later (T.87 C.2.4.2); the decoder's own check covers that case
  if (h.width !== a.columns || (h.height !== a.rows && !(kind === 'jpegls' && h.height === 0)) || h.components !== a.samplesPerPixel) {
    throw new DecodeError(`${kind} frame header says ${h.width}x${h.height}x${h.components}, the data set says ${a.columns}x${a.rows}x${a.samplesPerPixel}`, { file });
  }
}

/** Image size from a JPEG 2000 codestream's SIZ marker (T.800 A.5.1), inside a JP2 'jp2c' box or bare. */
export function j2kFrameHeader(b: Uint8Array): { width: number; height: number; components: number } | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 0;
  if (b.length >= 12 && dv.getUint32(4) === 0x6a502020) {
    // JP2 file format: boxes of [length, type]; the codestream is the 'jp2c' box
    for (p = 0; ; ) {
      if (p + 8 > b.length) return undefined;
      const len = dv.getUint32(p);
      if (dv.getUint32(p + 4) === 0x6a703263) { p += 8; break; }
      if (len < 8) return undefined;
      p += len;
    }
  }
  if (p + 42 > b.length || dv.getUint16(p) !== 0xff4f || dv.getUint16(p + 2) !== 0xff51) return undefined;
  const q = p + 4; // Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz
  // some writers left a sequence delimiter (FFFE,E0DD) over Rsiz and the high half of Xsiz, which GDCM restores
  const xsiz = dv.getUint32(q + 2) === 0xfeffdde0 ? dv.getUint16(q + 6) : dv.getUint32(q + 4);
  return { width: xsiz - dv.getUint32(q + 12), height: dv.getUint32(q + 8) - dv.getUint32(q + 16), components: dv.getUint16(q + 36) };
}

/** A JPEG 2000 frame whose SIZ names another size than the data set's is refused before any tile is decoded. */
export function checkJ2kHeader(bytes: Uint8Array, a: ImageAttributes, kind: string, file: string): void {
  const h = j2kFrameHeader(bytes);
  if (!h) throw new DecodeError(`${kind} frame does not start with a codestream (SOC, SIZ)`, { file });
  if (h.width !== a.columns || h.height !== a.rows || h.components !== a.samplesPerPixel) {
    throw new DecodeError(`${kind} codestream header (SIZ) says ${h.width}x${h.height}x${h.components}, the data set says ${a.columns}x${a.rows}x${a.samplesPerPixel}`, { file });
  }
}
