// Reading a DICOM data set (PS3.10 files, and bare data sets without preamble or meta) with dicom-parser,
// and the image attributes decoding needs (PS3.3 C.7.6.3 Image Pixel Module, C.11 LUTs).
import dicomParser from 'dicom-parser';
import { DecodeError, LimitError, UnsupportedError } from '../../errors.ts';
import { inflateRawBounded } from '../inflate.ts';

export type DataSet = dicomParser.DataSet;

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflate: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
} as const;

/** dicom-parser throws strings and plain Errors; this names the file and keeps the reason. */
function parseError(e: unknown, file: string): DecodeError {
  const msg = typeof e === 'string' ? e : e instanceof Error ? e.message : String((e as { exception?: unknown })?.exception ?? e);
  return new DecodeError(`not a readable DICOM data set: ${msg.replace(/^dicomParser\.\w+: /, '')}`, { file });
}

/** Does the buffer start like a bare data set (group 0002 or 0008 element, little endian)? */
function looksLikeBareDataSet(b: Uint8Array): boolean {
  return b.length >= 8 && (b[0] === 0x02 || b[0] === 0x08) && b[1] === 0 && b[3] === 0;
}

/** Explicit VR if bytes 4-5 spell a VR, else implicit. */
function guessBareSyntax(b: Uint8Array): string {
  const vr = String.fromCharCode(b[4]!, b[5]!);
  return /^[A-Z]{2}$/.test(vr) ? TS.explicitLE : TS.implicitLE;
}

/** The Transfer Syntax UID (0002,0010) of a meta group at the start of a bare data set (explicit VR little endian). */
function bareMetaSyntax(b: Uint8Array): string | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let p = 0; p + 8 <= b.length && dv.getUint16(p, true) === 0x0002; ) {
    const vr = String.fromCharCode(b[p + 4]!, b[p + 5]!);
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
    const len = long ? (p + 12 <= b.length ? dv.getUint32(p + 8, true) : -1) : dv.getUint16(p + 6, true);
    const start = p + (long ? 12 : 8);
    if (len < 0 || start + len > b.length) return undefined;
    if (dv.getUint16(p + 2, true) === 0x0010) return new TextDecoder().decode(b.subarray(start, start + len)).replace(/[\0 ]+$/, '');
    p = start + len;
  }
  return undefined;
}

/**
 * A Part 10 file whose meta group says an explicit VR syntax while its body is written implicit VR (the
 * first element has no VR): read the body as implicit VR little endian, as pydicom does when it finds the
 * VR missing (filereader.py: "Expected explicit VR, but found implicit VR").
 */
function implicitBody(bytes: Uint8Array): DataSet | undefined {
  try {
    const meta = dicomParser.readPart10Header(bytes) as DataSet & { position: number };
    const at = meta.position;
    if (at + 8 > bytes.length || /^[A-Z]{2}$/.test(String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!))) return undefined;
    const stream = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, bytes, at);
    // the DataSet constructor exists at run time but not in dicom-parser's type declarations
    const { DataSet: DataSetClass } = dicomParser as unknown as { DataSet: new (parser: unknown, bytes: Uint8Array, elements: object) => DataSet };
    const ds = new DataSetClass(dicomParser.littleEndianByteArrayParser, bytes, {});
    // stop at the pixel data: implicit VR parsing would take encapsulated fragments for sequence items
    dicomParser.parseDicomDataSetImplicit(ds, stream, bytes.length, { untilTag: 'x7fe00010' });
    const px = ds.elements.x7fe00010;
    if (px?.hadUndefinedLength) dicomParser.findEndOfEncapsulatedElement(stream, px, []);
    else if (px) px.length = Math.min(px.length, bytes.length - px.dataOffset);
    Object.assign(ds.elements, meta.elements);
    return ds;
  } catch {
    return undefined;
  }
}

/** Most bytes a deflated data set (PS3.5 A.5) may inflate to: the largest image the default value limit admits, at 32 bits, plus 64 MiB. */
export const MAX_INFLATED_BYTES = 4 * 2 ** 28 + 2 ** 26;

/**
 * Parse a data set; pixel data is located, not decoded.
 * @example parseDataSet(readFileSync('CT_small.dcm'), 'CT_small.dcm').string('x00080060') // 'CT'
 */
export function parseDataSet(bytes: Uint8Array, file: string, maxInflated = MAX_INFLATED_BYTES): { ds: DataSet; transferSyntax: string } {
  const hasPreamble = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  const options: dicomParser.ParseDicomOptions = {
    // deflated data sets (PS3.5 A.5): raw deflate after the meta group
    inflater: (buf: Uint8Array, position: number) => {
      const body = buf.subarray(position);
      // never unbounded: inflating stops at the bound; the first allocation is a guess that grows as needed
      const { bytes: inflated, overflow } = inflateRawBounded(body, maxInflated, Math.min(maxInflated, 4 * body.length + (1 << 16)));
      if (overflow) throw new LimitError(`the deflated data set inflates past ${maxInflated} bytes`, { file });
      const out = new Uint8Array(position + inflated.length);
      out.set(buf.subarray(0, position));
      out.set(inflated, position);
      return out;
    },
  } as unknown as dicomParser.ParseDicomOptions;
  let bare: string | undefined;
  if (!hasPreamble) {
    if (!looksLikeBareDataSet(bytes)) throw new DecodeError('not DICOM: no "DICM" at offset 128 and no data set at the start', { file });
    bare = guessBareSyntax(bytes);
    (options as { TransferSyntaxUID?: string }).TransferSyntaxUID = bare;
  }
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(bytes, options);
  } catch (e) {
    if (e instanceof LimitError) throw e;
    const implicit = hasPreamble ? implicitBody(bytes) : undefined;
    if (!implicit) throw parseError(e, file);
    ds = implicit;
  }
  // a bare data set may still begin with its meta group (PS3.10 7.1): its Transfer Syntax then tells how the
  // pixel data is stored, as pydicom reads it; the body of an encapsulated syntax is explicit little endian
  const metaSyntax = bare ? bareMetaSyntax(bytes) : undefined;
  const transferSyntax = bare && metaSyntax && (metaSyntax === bare || !Object.values(TS).includes(metaSyntax as never)) ? metaSyntax : bare ?? str(ds, 'x00020010');
  if (!transferSyntax) throw new DecodeError('the file meta information has no TransferSyntaxUID (0002,0010)', { file });
  return { ds, transferSyntax: transferSyntax.replace(/\0/g, '') };
}

export function str(ds: DataSet, tag: string): string | undefined {
  const v = ds.string(tag);
  return v === undefined || v === '' ? undefined : v.trim();
}

export function num(ds: DataSet, tag: string, index = 0): number | undefined {
  // the whole value, split here: dicom-parser's string(tag, index) throws past the last value
  const s = ds.string(tag)?.split('\\')[index];
  if (s === undefined || s.trim() === '') return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

/** An unsigned short attribute (US), honouring the data set's byte order. */
export function us(ds: DataSet, tag: string): number | undefined {
  return ds.elements[tag] && ds.elements[tag]!.length >= 2 ? ds.uint16(tag) : undefined;
}

export interface ImageAttributes {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  planarConfiguration: number;
  photometric: string;
  frames: number;
  transferSyntax: string;
}

/** The Image Pixel Module attributes; every missing one is named in a single error. */
export function imageAttributes(ds: DataSet, transferSyntax: string, file: string): ImageAttributes {
  const missing: string[] = [];
  const need = (name: string, v: number | undefined) => (v === undefined ? (missing.push(name), 0) : v);
  const rows = need('Rows (0028,0010)', us(ds, 'x00280010'));
  const columns = need('Columns (0028,0011)', us(ds, 'x00280011'));
  const bitsAllocated = need('BitsAllocated (0028,0100)', us(ds, 'x00280100'));
  const photometric = str(ds, 'x00280004');
  if (!photometric) missing.push('PhotometricInterpretation (0028,0004)');
  if (missing.length) throw new DecodeError(`missing ${missing.join(', ')}`, { file });
  return {
    rows,
    columns,
    samplesPerPixel: us(ds, 'x00280002') ?? 1,
    bitsAllocated,
    bitsStored: us(ds, 'x00280101') ?? bitsAllocated,
    highBit: us(ds, 'x00280102') ?? (us(ds, 'x00280101') ?? bitsAllocated) - 1,
    pixelRepresentation: us(ds, 'x00280103') ?? 0,
    planarConfiguration: us(ds, 'x00280006') ?? 0,
    photometric: photometric!,
    frames: Math.max(1, num(ds, 'x00280008') ?? 1),
    transferSyntax,
  };
}

export function unsupported(what: string, file: string): never {
  throw new UnsupportedError(what, { file });
}
