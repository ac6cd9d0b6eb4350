// DICOM images to values a model pipeline can use: stored values (pixels.ts), stored-bits masking and sign
// (PS3.5 8.1.1), colour to RGB (PS3.3 C.7.6.3.1.2: YBR_FULL, YBR_FULL_422, PALETTE COLOR), then the
// modality LUT (PS3.3 C.11.1: rescale slope/intercept or the Modality LUT Sequence). The VOI window stays
// metadata (`windows`), applied at display time by toDisplayRaster.
import { DecodeError, LimitError, UnsupportedError } from '../../errors.ts';
import type { Window, VoiFunction } from '../../image/window.ts';
import type { DecodedImage } from '../types.ts';
import { imageAttributes, num, parseDataSet, str, TS, type DataSet, type ImageAttributes } from './dataset.ts';
import { decodeFrame, frameBytes, LOSSY_SYNTAXES, storage } from './pixels.ts';
import { checkSizeClaims } from './size-claims.ts';

export interface DicomOptions {
  source: string;
  /** one frame (0-based); default all */
  frame?: number;
  /** refuse images with more values than this, before allocating (default 2^28) */
  maxPixels?: number;
  /** include patient identifiers in meta.phi */
  phi?: boolean;
}

export const DEFAULT_MAX_DICOM_VALUES = 2 ** 28;

/** ITU-R BT.601 full range YCbCr to RGB, rounded and clipped as pydicom's convert_color_space does. */
function ybrToRgb(v: Float64Array): void {
  for (let i = 0; i < v.length; i += 3) {
    const y = v[i]!;
    const cb = v[i + 1]! - 128;
    const cr = v[i + 2]! - 128;
    const rgb = [y + 1.402 * cr, y - ((0.114 * 1.772) / 0.587) * cb - ((0.299 * 1.402) / 0.587) * cr, y + 1.772 * cb];
    for (let c = 0; c < 3; c++) v[i + c] = Math.min(255, Math.max(0, Math.floor(rgb[c]! + 0.5)));
  }
}

/** A LUT's descriptor [entries (0 = 65536), first mapped value, bits] and its data, in the data set's byte order. */
function lut(ds: DataSet, descTag: string, dataTag: string, file: string, signedFirst = false): { first: number; data: Float64Array } {
  const d = ds.elements[descTag];
  const e = ds.elements[dataTag];
  if (!d || !e) throw new DecodeError(`LUT ${descTag}/${dataTag} is incomplete`, { file });
  const entries = ds.uint16(descTag, 0) || 65536;
  // the first mapped value is signed when the pixel data is (PS3.3 C.11.1.1), whatever VR it was written with
  const first = d.vr === 'SS' || signedFirst ? ds.int16(descTag, 1)! : ds.uint16(descTag, 1)!;
  const bits = ds.uint16(descTag, 2)!;
  const wide = bits > 8 || e.length >= entries * 2;
  const data = new Float64Array(entries);
  for (let i = 0; i < entries; i++) {
    if ((wide ? 2 * i + 2 : i + 1) > e.length) throw new DecodeError(`LUT data ${dataTag} is shorter than its ${entries} entries`, { file });
    data[i] = wide ? ds.uint16(dataTag, i)! : ds.byteArray[e.dataOffset + i]!;
  }
  return { first, data };
}

/**
 * A segmented palette colour LUT (PS3.3 C.7.9.2) read from the data set: words in its byte order (bytes when
 * the descriptor says 8 bits), expanded by expandSegmentedLut.
 */
function segmentedLut(ds: DataSet, descTag: string, dataTag: string, file: string): { first: number; data: Float64Array } {
  const d = ds.elements[descTag];
  const e = ds.elements[dataTag]!;
  if (!d) throw new DecodeError(`segmented LUT ${dataTag} has no descriptor ${descTag}`, { file });
  const first = d.vr === 'SS' ? ds.int16(descTag, 1)! : ds.uint16(descTag, 1)!;
  const wide = ds.uint16(descTag, 2)! > 8;
  const words = Array.from({ length: wide ? e.length >> 1 : e.length }, (_, i) => (wide ? ds.uint16(dataTag, i)! : ds.byteArray[e.dataOffset + i]!));
  try {
    return { first, data: Float64Array.from(expandSegmentedLut(words, wide)) };
  } catch (err) {
    throw new DecodeError(`segmented LUT ${dataTag}: ${(err as Error).message}`, { file });
  }
}

/**
 * Expand segmented LUT data (PS3.3 C.7.9.2: discrete, linear and indirect segments) as pydicom's
 * _expand_segmented_lut does, linear segments included (numpy linspace, rounded half to even). For 8-bit
 * data an indirect segment's offset is four bytes, read here in little endian order.
 * @example expandSegmentedLut([0, 2, 10, 20, 1, 2, 30], true) // [10, 20, 25, 30]
 */
export function expandSegmentedLut(words: number[], wide: boolean): number[] {
  const limit = 2 ** 24; // no real LUT has more entries: a guard against hostile segment lengths
  const expand = (start: number, segments: number, last: number | undefined, depth: number): number[] => {
    if (depth > 8) throw new Error('indirect segments nest too deep');
    const out: number[] = [];
    let off = start;
    for (let read = 0; off + 1 < words.length && read !== segments; read++) {
      const [op, len] = [words[off]!, words[off + 1]!];
      off += 2;
      if (op === 0) {
        out.push(...words.slice(off, off + len));
        off += len;
      } else if (op === 1) {
        const y0 = out.length ? out[out.length - 1]! : last;
        if (y0 === undefined) throw new Error('the first segment is linear');
        const y1 = words[off++]!;
        // numpy's linspace(y0 + step, y1, len), rounded half to even, with the same float operations
        const from = y0 + (y1 - y0) / len;
        const step = (y1 - from) / (len - 1);
        for (let k = 0; k < len; k++) out.push(y0 === y1 || k === len - 1 ? y1 : roundHalfEven(from + k * step));
      } else if (op === 2) {
        if (!out.length && last === undefined) throw new Error('the first segment is indirect');
        const at = wide ? words[off]! + words[off + 1]! * 65536 : (words[off + 3]! << 8 | words[off + 2]!) * 65536 + (words[off + 1]! << 8 | words[off]!);
        off += wide ? 2 : 4;
        out.push(...expand(at, len, out.length ? out[out.length - 1] : last, depth + 1));
      } else throw new Error(`unknown segment type ${op}`);
      if (out.length > limit) throw new Error(`expands past ${limit} entries`);
    }
    return out;
  };
  return expand(0, -1, undefined, 0);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Float (OF, 32-bit) or double float (OD, 64-bit) pixel data (PS3.3 C.7.6.24): native, one sample, then rescale. */
function decodeFloatPixels(ds: DataSet, a: ImageAttributes, o: DicomOptions): DecodedImage {
  const file = o.source;
  const el = (ds.elements.x7fe00008 ?? ds.elements.x7fe00009)!;
  const size = ds.elements.x7fe00008 ? 4 : 8;
  if (a.samplesPerPixel !== 1) throw new UnsupportedError(`float pixel data with ${a.samplesPerPixel} samples per pixel`, { file });
  if (a.rows === 0 || a.columns === 0) throw new DecodeError(`image of ${a.rows}x${a.columns} pixels`, { file });
  checkSizeClaims(ds, a, o.frame === undefined ? a.frames : 1, o.maxPixels ?? DEFAULT_MAX_DICOM_VALUES, file); // before any frame list or buffer
  const frames = o.frame === undefined ? Array.from({ length: a.frames }, (_, i) => i) : [o.frame];
  if (o.frame !== undefined && (!Number.isInteger(o.frame) || o.frame < 0 || o.frame >= a.frames)) throw new DecodeError(`frame ${o.frame}: the image has ${a.frames} frame(s)`, { file });
  const per = a.rows * a.columns;
  const total = per * frames.length;
  const limit = o.maxPixels ?? DEFAULT_MAX_DICOM_VALUES;
  if (total > limit) throw new LimitError(`${a.rows}x${a.columns} x ${frames.length} frame(s) = ${total} values, over the limit of ${limit}`, { file });
  if (el.length < per * a.frames * size || el.dataOffset + per * a.frames * size > ds.byteArray.length) {
    throw new DecodeError(`float pixel data too short: ${el.length} bytes for ${a.frames} frame(s) of ${a.rows}x${a.columns} at ${size * 8} bits`, { file });
  }
  const dv = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + el.dataOffset, per * a.frames * size);
  const le = a.transferSyntax !== TS.explicitBE;
  const rescale = num(ds, 'x00281053') !== undefined && num(ds, 'x00281052') !== undefined ? { slope: num(ds, 'x00281053')!, intercept: num(ds, 'x00281052')! } : undefined;
  const data = new Float32Array(total);
  frames.forEach((f, k) => {
    for (let i = 0; i < per; i++) {
      const v = size === 4 ? dv.getFloat32(4 * (f * per + i), le) : dv.getFloat64(8 * (f * per + i), le);
      data[k * per + i] = rescale ? v * rescale.slope + rescale.intercept : v;
    }
  });
  const windows = windowsOf(ds);
  return {
    source: file, rows: a.rows, columns: a.columns, frames: frames.length, samplesPerPixel: 1, data,
    photometric: a.photometric.toUpperCase(), windows, invert: a.photometric.toUpperCase() === 'MONOCHROME1',
    meta: metaOf(ds, a, rescale, windows, Boolean(o.phi)),
  };
}

function lookup(t: { first: number; data: Float64Array }, v: number): number {
  return t.data[Math.min(t.data.length - 1, Math.max(0, Math.round(v) - t.first))]!;
}

function windowsOf(ds: DataSet): Window[] {
  const out: Window[] = [];
  const fnName = str(ds, 'x00281056')?.toUpperCase();
  const fn: VoiFunction | undefined = fnName === 'LINEAR_EXACT' || fnName === 'SIGMOID' || fnName === 'LINEAR' ? fnName : undefined;
  for (let i = 0; ; i++) {
    const c = num(ds, 'x00281050', i);
    const w = num(ds, 'x00281051', i);
    if (c === undefined || w === undefined) break;
    if (w > 0) out.push(fn ? { center: c, width: w, fn } : { center: c, width: w });
  }
  return out;
}

const PHI_TAGS: Record<string, string> = { patientName: 'x00100010', patientId: 'x00100020', patientBirthDate: 'x00100030', patientSex: 'x00100040', accessionNumber: 'x00080050', institutionName: 'x00080080', referringPhysicianName: 'x00080090' };

function metaOf(ds: DataSet, a: ImageAttributes, rescale: { slope: number; intercept: number } | undefined, windows: Window[], phi: boolean): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    modality: str(ds, 'x00080060'),
    photometricInterpretation: a.photometric,
    transferSyntaxUID: a.transferSyntax,
    lossy: LOSSY_SYNTAXES.has(a.transferSyntax) || str(ds, 'x00282110') === '01',
    rows: a.rows,
    columns: a.columns,
    frames: a.frames,
    samplesPerPixel: a.samplesPerPixel,
    bitsAllocated: a.bitsAllocated,
    bitsStored: a.bitsStored,
    pixelRepresentation: a.pixelRepresentation,
    rescaleSlope: rescale?.slope,
    rescaleIntercept: rescale?.intercept,
    windows,
    studyInstanceUID: str(ds, 'x0020000d'),
    seriesInstanceUID: str(ds, 'x0020000e'),
    sopInstanceUID: str(ds, 'x00080018'),
  };
  if (phi) meta.phi = Object.fromEntries(Object.entries(PHI_TAGS).map(([k, t]) => [k, str(ds, t)]));
  return meta;
}

/**
 * Decode a DICOM image: values after the modality LUT, [frames, rows, columns, samples], colour as RGB.
 * @example (await decodeDicom(readFileSync('CT_small.dcm'), { source: 'CT_small.dcm' })).meta.modality // 'CT'
 */
export async function decodeDicom(bytes: Uint8Array, o: DicomOptions): Promise<DecodedImage> {
  const file = o.source;
  const { ds, transferSyntax } = parseDataSet(bytes, file);
  if (!ds.elements.x7fe00010 && !ds.elements.x7fe00008 && !ds.elements.x7fe00009) throw new DecodeError('no pixel data (7FE0,0010): not an image', { file });
  const a = imageAttributes(ds, transferSyntax, file);
  if (ds.elements.x7fe00008 || ds.elements.x7fe00009) return decodeFloatPixels(ds, a, o);
  if (a.rows === 0 || a.columns === 0) throw new DecodeError(`image of ${a.rows}x${a.columns} pixels`, { file });
  if (![1, 3].includes(a.samplesPerPixel)) throw new UnsupportedError(`SamplesPerPixel ${a.samplesPerPixel}`, { file });
  if (![1, 8, 16, 32].includes(a.bitsAllocated)) throw new UnsupportedError(`BitsAllocated ${a.bitsAllocated}`, { file });
  if (a.bitsStored < 1 || a.bitsStored > a.bitsAllocated) throw new DecodeError(`BitsStored ${a.bitsStored} with BitsAllocated ${a.bitsAllocated}`, { file });
  const photometric = a.photometric.toUpperCase();
  const known = ['MONOCHROME1', 'MONOCHROME2', 'RGB', 'PALETTE COLOR', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT'];
  if (!known.includes(photometric)) throw new UnsupportedError(`photometric interpretation '${a.photometric}'`, { file });
  checkSizeClaims(ds, a, o.frame === undefined ? a.frames : 1, o.maxPixels ?? DEFAULT_MAX_DICOM_VALUES, file); // before any frame list or buffer
  const frames = o.frame === undefined ? Array.from({ length: a.frames }, (_, i) => i) : [o.frame];
  if (o.frame !== undefined && (!Number.isInteger(o.frame) || o.frame < 0 || o.frame >= a.frames)) throw new DecodeError(`frame ${o.frame}: the image has ${a.frames} frame(s)`, { file });
  const outSamples = photometric === 'PALETTE COLOR' ? 3 : a.samplesPerPixel;
  const total = a.rows * a.columns * outSamples * frames.length;
  const limit = o.maxPixels ?? DEFAULT_MAX_DICOM_VALUES;
  if (total > limit) throw new LimitError(`${a.rows}x${a.columns}x${outSamples} x ${frames.length} frame(s) = ${total} values, over the limit of ${limit}`, { file });

  // native YBR_FULL_422 stores two samples per pixel (Y Y Cb Cr per pair): read it as such, expand below
  const native422 = storage(a.transferSyntax, file) === 'native' && photometric === 'YBR_FULL_422';
  const readAs = native422 ? { ...a, samplesPerPixel: 1, columns: a.columns * 2 } : a;
  const encoded = frameBytes(ds, readAs, file, frames);
  const littleEndian = a.transferSyntax !== TS.explicitBE;
  const data = new Float32Array(total);
  const rescale = num(ds, 'x00281053') !== undefined && num(ds, 'x00281052') !== undefined ? { slope: num(ds, 'x00281053')!, intercept: num(ds, 'x00281052')! } : undefined;
  const modalityLut = ds.elements.x00283000?.items?.[0]?.dataSet;
  const mlut = modalityLut ? lut(modalityLut as DataSet, 'x00283002', 'x00283006', file, a.pixelRepresentation === 1) : undefined;
  const palette = photometric === 'PALETTE COLOR'
    ? (['x00281101', 'x00281102', 'x00281103'] as const).map((d, c) =>
        ds.elements[`x0028120${c + 1}`] || !ds.elements[`x0028122${c + 1}`] ? lut(ds, d, `x0028120${c + 1}`, file) : segmentedLut(ds, d, `x0028122${c + 1}`, file))
    : undefined;

  for (let k = 0; k < frames.length; k++) {
    let { values, planar } = await decodeFrame(encoded[k]!, readAs, frames[k]!, littleEndian, file);
    if (native422) values = expand422(values, a.rows, a.columns);
    if (planar) values = interleave(values, a.rows * a.columns, a.samplesPerPixel);
    // as pydicom (the reference), values stay as stored in BitsAllocated bits: no masking to BitsStored
    // JPEG included: its decoder leaves the samples in YBR, as pydicom's handlers do before convert_color_space
    if (photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422') ybrToRgb(values);
    const base = k * a.rows * a.columns * outSamples;
    if (palette) {
      for (let p = 0; p < values.length; p++) for (let c = 0; c < 3; c++) data[base + 3 * p + c] = lookup(palette[c]!, values[p]!);
    } else if (mlut) {
      for (let i = 0; i < values.length; i++) data[base + i] = lookup(mlut, values[i]!);
    } else if (rescale && (rescale.slope !== 1 || rescale.intercept !== 0)) {
      for (let i = 0; i < values.length; i++) data[base + i] = values[i]! * rescale.slope + rescale.intercept;
    } else {
      data.set(values, base);
    }
  }
  const windows = windowsOf(ds);
  const colour = outSamples === 3;
  const voiItem = ds.elements.x00283010?.items?.[0]?.dataSet as DataSet | undefined;
  const voi = voiItem ? lut(voiItem, 'x00283002', 'x00283006', file, a.pixelRepresentation === 1 && !mlut && !rescale) : undefined;
  return {
    source: file,
    rows: a.rows,
    columns: a.columns,
    frames: frames.length,
    samplesPerPixel: outSamples as 1 | 3,
    data,
    photometric: colour ? 'RGB' : photometric,
    windows: colour ? [] : windows,
    ...(voi && !colour ? { voiLut: { first: voi.first, bits: voiItem!.uint16('x00283002', 2)!, data: Array.from(voi.data) } } : {}),
    invert: photometric === 'MONOCHROME1',
    meta: metaOf(ds, a, rescale, windows, Boolean(o.phi)),
  };
}

/** [rows, columns*2] of Y0 Y1 Cb Cr groups to [rows, columns, 3] YCbCr (each pair shares its chroma). */
function expand422(v: Float64Array, rows: number, columns: number): Float64Array {
  const out = new Float64Array(rows * columns * 3);
  for (let p = 0; p + 1 < rows * columns + 1; p += 2) {
    const g = 2 * p; // 4 values per 2 pixels
    const [y0, y1, cb, cr] = [v[g]!, v[g + 1]!, v[g + 2]!, v[g + 3]!];
    out.set([y0, cb, cr], 3 * p);
    if (p + 1 < rows * columns) out.set([y1, cb, cr], 3 * (p + 1));
  }
  return out;
}

/** [samples, pixels] planes to [pixels, samples]. */
function interleave(v: Float64Array, pixels: number, samples: number): Float64Array {
  const out = new Float64Array(v.length);
  for (let s = 0; s < samples; s++) for (let p = 0; p < pixels; p++) out[p * samples + s] = v[s * pixels + p]!;
  return out;
}


