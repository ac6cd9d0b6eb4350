// Pixel data to stored sample values: native (PS3.5 8, little and big endian, 1 to 32 bits), RLE (PS3.5
// Annex G, written here), JPEG lossless (jpeg-lossless.ts) and the other compressed syntaxes through the cornerstone WASM codecs (libjpeg-turbo,
// CharLS, OpenJPEG, OpenJPH). Output per frame: Float64Array [rows, columns, samples], interleaved.
import dicomParser from 'dicom-parser';
import { DecodeError, UnsupportedError } from '../../errors.ts';
import type { DataSet, ImageAttributes } from './dataset.ts';
import { decodeJpegDct } from './jpeg-dct.ts';
import { decodeJpegLossless } from './jpeg-lossless.ts';
import { checkJ2kHeader, checkJpegHeader } from './size-claims.ts';


export type Codec = 'jpeg' | 'jpegls' | 'j2k' | 'htj2k';

/** Transfer syntaxes by how their pixel data is stored. */
const CODECS: Record<string, Codec | 'rle' | 'native' | 'lossless'> = {
  '1.2.840.10008.1.2.4.57': 'lossless',
  '1.2.840.10008.1.2.4.70': 'lossless',
  '1.2.840.10008.1.2': 'native',
  '1.2.840.10008.1.2.1': 'native',
  '1.2.840.10008.1.2.1.99': 'native',
  '1.2.840.10008.1.2.2': 'native',
  '1.2.840.10008.1.2.5': 'rle',
  '1.2.840.10008.1.2.4.50': 'jpeg',
  '1.2.840.10008.1.2.4.51': 'jpeg',
  '1.2.840.10008.1.2.4.80': 'jpegls',
  '1.2.840.10008.1.2.4.81': 'jpegls',
  '1.2.840.10008.1.2.4.90': 'j2k',
  '1.2.840.10008.1.2.4.91': 'j2k',
  '1.2.840.10008.1.2.4.201': 'htj2k',
  '1.2.840.10008.1.2.4.202': 'htj2k',
  '1.2.840.10008.1.2.4.203': 'htj2k',
};

export const LOSSY_SYNTAXES = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.81', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.203']);

export function storage(ts: string, file: string): Codec | 'rle' | 'native' | 'lossless' {
  const c = CODECS[ts];
  if (!c) throw new UnsupportedError(`unsupported transfer syntax ${ts}`, { file });
  return c;
}

/** Where each codec's decoder build lives (a loader resolves these) and its decoder class. */
export const MODULES: Record<Codec, { file: string; decoder: string }> = {
  jpeg: { file: '@cornerstonejs/codec-libjpeg-turbo-8bit/dist/libjpegturbowasm_decode.js', decoder: 'JPEGDecoder' },
  jpegls: { file: '@cornerstonejs/codec-charls/dist/charlswasm_decode.js', decoder: 'JpegLSDecoder' },
  j2k: { file: '@cornerstonejs/codec-openjpeg/dist/openjpegwasm_decode.js', decoder: 'J2KDecoder' },
  htj2k: { file: '@cornerstonejs/codec-openjph/dist/openjphjs.js', decoder: 'HTJ2KDecoder' },
};
const loaded = new Map<Codec, Promise<Record<string, new () => WasmDecoder>>>();

export interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  readHeader?(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  getInterleaveMode?(): number;
  delete?(): void;
}

/** Loads a codec's Emscripten module (its decoder classes by name); the platform supplies it. */
export type CodecLoader = (codec: Codec, build: { file: string; decoder: string }) => Promise<Record<string, new () => WasmDecoder>>;
let codecLoader: CodecLoader | undefined;

/** Register how codecs load on this platform (Node: src/node/io/dicom-codecs.ts, by require; a browser: by import()). */
export function setCodecLoader(loader: CodecLoader): void {
  codecLoader = loader;
  loaded.clear();
}

async function codecModule(c: Codec, file: string): Promise<Record<string, new () => WasmDecoder>> {
  let m = loaded.get(c);
  if (!m) {
    // the platform registers its loader: on Node, importing clipmed's package entry (or any Node-side reader) does
    if (!codecLoader) throw new UnsupportedError(`no codec loader registered for ${c} (setCodecLoader; on Node, src/node/io/dicom-codecs.ts registers one)`, { file });
    m = codecLoader(c, MODULES[c]);
    loaded.set(c, m);
  }
  return m;
}

/** The encoded (or native) bytes of every frame, or of the one asked for. */
export function frameBytes(ds: DataSet, a: ImageAttributes, file: string, frames: number[]): Uint8Array[] {
  const el = ds.elements.x7fe00010 ?? ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
  if (!el) throw new DecodeError('no pixel data (7FE0,0010)', { file });
  if (storage(a.transferSyntax, file) === 'native' && !el.encapsulatedPixelData) {
    const bits = a.rows * a.columns * a.samplesPerPixel * a.bitsAllocated;
    const per = a.bitsAllocated === 1 ? Math.ceil(bits / 8) : bits / 8;
    const total = a.bitsAllocated === 1 ? Math.ceil((bits * a.frames) / 8) : per * a.frames;
    if (el.length < total) throw new DecodeError(`pixel data too short: ${el.length} bytes for ${a.frames} frame(s) of ${a.rows}x${a.columns}x${a.samplesPerPixel} at ${a.bitsAllocated} bits (${total} needed)`, { file });
    if (el.dataOffset + total > ds.byteArray.length) throw new DecodeError('pixel data runs past the end of the file', { file });
    const all = ds.byteArray.subarray(el.dataOffset, el.dataOffset + total);
    if (a.bitsAllocated === 1) return frames.map(() => all); // bit-packed across frame boundaries: unpacked later
    if (a.bitsAllocated === 8 && el.vr === 'OW' && a.transferSyntax === '1.2.840.10008.1.2.2') {
      // 8-bit samples in an OW element of a big endian data set are stored in byte-swapped 16-bit words
      const swapped = Uint8Array.prototype.slice.call(all);
      for (let i = 0; i + 1 < swapped.length; i += 2) [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
      return frames.map((f) => swapped.subarray(f * per, (f + 1) * per));
    }
    return frames.map((f) => all.subarray(f * per, (f + 1) * per));
  }
  if (!el.encapsulatedPixelData || !el.fragments) throw new DecodeError(`transfer syntax ${a.transferSyntax} needs encapsulated pixel data`, { file });
  try {
    return frames.map((f) => {
      if (a.frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, el.fragments!.length);
      if (el.basicOffsetTable && el.basicOffsetTable.length > 0) return dicomParser.readEncapsulatedImageFrame(ds, el, f);
      if (el.fragments!.length === a.frames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, f, 1);
      return dicomParser.readEncapsulatedImageFrame(ds, el, f, dicomParser.createJPEGBasicOffsetTable(ds, el));
    });
  } catch (e) {
    throw new DecodeError(`encapsulated pixel data: ${typeof e === 'string' ? e : (e as Error).message}`, { file });
  }
}

/** Sample values of one frame, interleaved [rows, columns, samples]; sign and stored bits not yet applied. */
export async function decodeFrame(bytes: Uint8Array, a: ImageAttributes, frame: number, littleEndian: boolean, file: string): Promise<{ values: Float64Array; planar: boolean }> {
  const kind = storage(a.transferSyntax, file);
  if (kind === 'jpeg' || kind === 'jpegls' || kind === 'lossless') checkJpegHeader(bytes, a, kind, file); // before a decoder allocates
  const n = a.rows * a.columns * a.samplesPerPixel;
  if (kind === 'native') return { values: nativeValues(bytes, a, frame, littleEndian), planar: a.planarConfiguration === 1 && a.samplesPerPixel > 1 };
  if (kind === 'rle') return { values: rleValues(bytes, a, file), planar: false };
  if (kind === 'lossless') {
    const img = decodeJpegLossless(bytes, file);
    if (img.width !== a.columns || img.height !== a.rows || img.components !== a.samplesPerPixel) {
      throw new DecodeError(`lossless JPEG stream is ${img.width}x${img.height}x${img.components}, the data set says ${a.columns}x${a.rows}x${a.samplesPerPixel}`, { file });
    }
    const signed16 = a.pixelRepresentation === 1 && a.bitsStored === a.bitsAllocated && a.bitsAllocated === 16;
    return { values: Float64Array.from(img.data, (v) => (signed16 && v >= 32768 ? v - 65536 : v)), planar: false };
  }
  if (kind === 'jpeg' && !isProgressive(bytes)) return { values: dctValues(bytes, a, file), planar: false };
  // a progressive stream goes to libjpeg-turbo, which would turn colour to RGB before the YBR conversion
  if (kind === 'jpeg' && a.samplesPerPixel !== 1) throw new UnsupportedError('progressive colour JPEG in a baseline/extended transfer syntax', { file });
  const mod = await codecModule(kind, file);
  const d = new mod[MODULES[kind].decoder]!();
  try {
    d.getEncodedBuffer(bytes.length).set(isJ2k(kind) ? repairSiz(bytes, a) : bytes);
    if (kind === 'j2k' || kind === 'htj2k') checkJ2kHeader(bytes, a, kind, file); // SIZ against the data set, before any tile is decoded
    try {
      d.decode();
    } catch (e) {
      throw new DecodeError(`${kind} decoder: ${typeof e === 'number' ? `error ${e}` : (e as Error)?.message ?? String(e)}`, { file });
    }
    const info = d.getFrameInfo();
    if (info.width !== a.columns || info.height !== a.rows || info.componentCount !== a.samplesPerPixel) {
      throw new DecodeError(`${kind} stream is ${info.width}x${info.height}x${info.componentCount}, the data set says ${a.columns}x${a.rows}x${a.samplesPerPixel}`, { file });
    }
    const out = d.getDecodedBuffer();
    const bytesPer = info.bitsPerSample > 8 ? 2 : 1;
    if (out.length < n * bytesPer) throw new DecodeError(`${kind} decoder returned ${out.length} bytes, ${n * bytesPer} expected`, { file });
    const values = new Float64Array(n);
    // Signedness as the reference (pydicom) reads it: JPEG 2000 streams say whether their samples are
    // signed, at their own precision; JPEG-LS samples are unsigned, read as two's complement only when they
    // fill BitsAllocated of signed pixel data
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const jpegls16Signed = kind === 'jpegls' && a.pixelRepresentation === 1 && a.bitsStored === a.bitsAllocated;
    const j2k = kind === 'j2k' || kind === 'htj2k';
    const precision = j2k && (info.isSigned || a.pixelRepresentation === 1) ? Math.min(info.bitsPerSample, a.bitsAllocated) : 0;
    for (let i = 0; i < n; i++) {
      let v = bytesPer === 2 ? dv.getUint16(2 * i, true) : out[i]!;
      if (jpegls16Signed && v >= 2 ** (8 * bytesPer - 1)) v -= 2 ** (8 * bytesPer);
      // OpenJPEG returns signed samples sign-extended to the output width: read those as two's complement
      if (j2k && info.isSigned && v >= 2 ** (8 * bytesPer - 1)) v -= 2 ** (8 * bytesPer);
      else if (precision && v >= 2 ** (precision - 1) && v < 2 ** precision) v -= 2 ** precision;
      values[i] = v;
    }
    // CharLS keeps the stream's interleave mode: 0 means one plane per component
    const planar = kind === 'jpegls' && a.samplesPerPixel > 1 && d.getInterleaveMode?.() === 0;
    return { values, planar };
  } finally {
    d.delete?.();
  }
}

/** A progressive JPEG (SOF2): left to the libjpeg-turbo codec. */
function isProgressive(b: Uint8Array): boolean {
  for (let p = 2; p + 4 <= b.length && b[p] === 0xff; p += 2 + ((b[p + 2]! << 8) | b[p + 3]!)) {
    if (b[p + 1] === 0xc2 || b[p + 1] === 0xc6) return true;
    if (b[p + 1] === 0xda) return false;
  }
  return false;
}

/**
 * Sequential DCT JPEG (8 and 12 bits) through the decoder written here, with libjpeg's integer inverse DCT
 * and upsampling, and no colour transform: the samples stay in the colour space the Photometric
 * Interpretation names (PS3.5 8.2.1), as pydicom returns them; YBR_FULL/YBR_FULL_422 then go to RGB with
 * pydicom's formula (index.ts). The libjpeg-turbo build decodes 8 bits only and always transforms 3 components.
 */
function dctValues(bytes: Uint8Array, a: ImageAttributes, file: string): Float64Array {
  const img = decodeJpegDct(bytes, file, false, { width: a.columns, height: a.rows });
  if (img.width !== a.columns || img.height !== a.rows || img.components !== a.samplesPerPixel) {
    throw new DecodeError(`JPEG stream is ${img.width}x${img.height}x${img.components}, the data set says ${a.columns}x${a.rows}x${a.samplesPerPixel}`, { file });
  }
  const signed = a.pixelRepresentation === 1 && a.bitsStored === img.precision;
  const top = 2 ** img.precision;
  return Float64Array.from(img.data, (v) => (signed && v >= top / 2 ? v - top : v));
}

const isJ2k = (k: string) => k === 'j2k' || k === 'htj2k';

/**
 * Some writers left a sequence delimiter tag (FFFE,E0DD) over the first four bytes after the SIZ marker's
 * length: Rsiz and the high half of Xsiz, which are zero for any image under 65536 columns. clipmed restores
 * them, only when the repaired Xsiz equals Columns (pydicom does not, and decodes noise: see the corpus test).
 */
function repairSiz(b: Uint8Array, a: ImageAttributes): Uint8Array {
  const hit = b.length > 14 && b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51 && b[6] === 0xfe && b[7] === 0xff && b[8] === 0xdd && b[9] === 0xe0;
  if (!hit || ((b[10]! << 8) | b[11]!) !== a.columns) return b;
  const fixed = b.slice();
  fixed.fill(0, 6, 10);
  return fixed;
}

function nativeValues(bytes: Uint8Array, a: ImageAttributes, frame: number, le: boolean): Float64Array {
  const n = a.rows * a.columns * a.samplesPerPixel;
  const out = new Float64Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const signed = a.pixelRepresentation === 1;
  switch (a.bitsAllocated) {
    case 1: {
      const start = frame * n;
      for (let i = 0; i < n; i++) out[i] = (bytes[(start + i) >> 3]! >> ((start + i) & 7)) & 1;
      break;
    }
    case 8:
      for (let i = 0; i < n; i++) out[i] = signed ? dv.getInt8(i) : bytes[i]!;
      break;
    case 16:
      for (let i = 0; i < n; i++) out[i] = signed ? dv.getInt16(2 * i, le) : dv.getUint16(2 * i, le);
      break;
    case 32:
      for (let i = 0; i < n; i++) out[i] = signed ? dv.getInt32(4 * i, le) : dv.getUint32(4 * i, le);
      break;
    default:
      throw new UnsupportedError(`BitsAllocated ${a.bitsAllocated}`);
  }
  return out;
}

/** RLE (PS3.5 G.3): a 64-byte header of segment offsets, one PackBits segment per byte plane. */
function rleValues(bytes: Uint8Array, a: ImageAttributes, file: string): Float64Array {
  if (bytes.length < 64) throw new DecodeError(`RLE frame of ${bytes.length} bytes is shorter than its 64-byte header`, { file });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments = dv.getUint32(0, true);
  const bytesPer = a.bitsAllocated / 8;
  const expected = a.samplesPerPixel * bytesPer;
  if (segments !== expected) throw new DecodeError(`RLE header lists ${segments} segments, ${expected} expected`, { file });
  const pixels = a.rows * a.columns;
  const out = new Float64Array(pixels * a.samplesPerPixel);
  const plane = new Uint8Array(pixels);
  for (let s = 0; s < segments; s++) {
    const start = dv.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? dv.getUint32(8 + 4 * s, true) : bytes.length;
    if (start < 64 || start > end || end > bytes.length) throw new DecodeError(`RLE segment ${s} offsets ${start}-${end} lie outside the frame`, { file });
    plane.fill(0);
    let o = 0;
    for (let i = start; i < end && o < pixels; ) {
      const h = (bytes[i++]! << 24) >> 24; // signed header byte
      if (h >= 0) {
        const len = Math.min(h + 1, pixels - o, end - i);
        plane.set(bytes.subarray(i, i + len), o);
        o += len;
        i += h + 1;
      } else if (h > -128) {
        if (i >= end) break;
        const len = Math.min(1 - h, pixels - o);
        plane.fill(bytes[i++]!, o, o + len);
        o += len;
      }
    }
    if (o < pixels) throw new DecodeError(`RLE segment ${s} decodes to ${o} bytes, ${pixels} expected`, { file });
    const sample = Math.floor(s / bytesPer);
    const shift = 8 * (bytesPer - 1 - (s % bytesPer)); // most significant byte first
    for (let p = 0; p < pixels; p++) out[p * a.samplesPerPixel + sample]! += plane[p]! * 2 ** shift;
  }
  if (a.pixelRepresentation === 1) {
    const top = 2 ** (8 * bytesPer);
    for (let i = 0; i < out.length; i++) if (out[i]! >= top / 2) out[i]! -= top;
  }
  return out;
}
