// One entry point for "the images the user named": files, folders (recursive, sorted) and dicomweb+http(s)
// URLs, each decoded by what its bytes are (not its name): DICOM, NIfTI (.nii/.nii.gz) or PNG/JPEG/TIFF.
// A file that fails is reported with its error and the rest go on; nothing is dropped without a record.
// This part takes bytes: how a named file is read, a folder walked and a PNG/JPEG/TIFF decoded is the
// platform's (src/node/io/inputs.ts: loadInputs, planInputs and loadEntry with node:fs and sharp).
import { ClipmedError, ConfigError, DecodeError, UnsupportedError } from '../errors.ts';
import { parseWindow, type Window } from '../image/window.ts';
import { isDicomWebUrl, resolveDicomWebUrl, type DicomWebOptions } from './dicomweb.ts';
import { looksLikeNifti, readNifti } from './nifti.ts';
import { niftiSlices, type NiftiSliceOptions } from './nifti-slices.ts';
import { looksLikeRaster } from './raster.ts';
import type { DecodedImage } from './types.ts';
import { decodeDicom } from './dicom/index.ts';

export type DicomDecoder = (bytes: Uint8Array, options: { source: string; frame?: number; maxPixels?: number }) => Promise<DecodedImage>;

/** Decodes PNG, JPEG and TIFF bytes as src/io/raster.ts describes (values as stored; the Node side: sharp). */
export type RasterDecoder = (bytes: Uint8Array, options: { source: string; window?: Window; maxPixels?: number }) => Promise<DecodedImage>;

/** What decoding inputs needs from the platform: reading a named file, and a PNG/JPEG/TIFF decoder. */
export interface InputPlatform {
  readFile(path: string): Promise<Uint8Array>;
  decodeRaster: RasterDecoder;
}

export interface LoadInputsOptions {
  /** display window for every image (preset, "center,width" or a Window); replaces the files' own windows */
  window?: Window | string;
  /** which slices of NIfTI volumes to take; default the middle axial slice at t = 0 */
  nifti?: Omit<NiftiSliceOptions, 'window'>;
  maxPixels?: number;
  maxVoxels?: number;
  dicomweb?: DicomWebOptions;
  /** DICOM decoder; default decodeDicom from src/io/dicom (a caller may wrap it to pass frame or PHI options) */
  decodeDicom?: DicomDecoder;
}

export interface LoadedImage {
  /** the path or URL as the caller gave it (a folder for the files inside it) */
  input: string;
  image: DecodedImage;
}

export interface LoadedInputs {
  images: LoadedImage[];
  /** inputs that could not be read or decoded, in order */
  failures: Array<{ input: string; error: Error }>;
  /** files inside folders that are not images we read (README, .DS_Store, ...), with why */
  skipped: Array<{ input: string; reason: string }>;
}

export type SniffedFormat = 'dicom' | 'nifti' | 'raster';

/**
 * What a file is, from its first bytes: DICOM ("DICM" at 128, or a bare data set starting with group
 * 0002/0008), NIfTI (sizeof_hdr 348 or 540, or gzip), or PNG/JPEG/TIFF. DICOM is tested first because a
 * DICOM preamble may itself hold a TIFF header.
 * @example sniffFormat(readFileSync('CT1.dcm')) // 'dicom'
 */
export function sniffFormat(b: Uint8Array): SniffedFormat | undefined {
  if (b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d) return 'dicom';
  if (looksLikeNifti(b) || (b[0] === 0x1f && b[1] === 0x8b)) return 'nifti';
  if (looksLikeRaster(b)) return 'raster';
  // DICOM without preamble: an explicit or implicit little-endian element of group 0002 or 0008 first.
  if (b.length >= 8 && (b[0] === 0x02 || b[0] === 0x08) && b[1] === 0 && b[3] === 0) return 'dicom';
  return undefined;
}

/** One thing to decode: a file (named directly or found in a folder) or a dicomweb URL. */
export interface InputEntry {
  /** the path or URL as the caller gave it (a folder for the files inside it) */
  input: string;
  /** the file to read, or the URL to retrieve */
  source: string;
  /** 'failed': an input that cannot be read at all (missing, a FIFO), kept in order with its error */
  kind: 'file' | 'dicomweb' | 'failed';
  /** found by walking a folder: a file that is not an image is skipped with a record, not a failure */
  inFolder: boolean;
  error?: Error;
}

/**
 * Read and decode one planned entry into `out` (images, or a failure or skip with its reason), reading files and
 * decoding rasters through `platform` (the Node side's loadEntry passes node:fs and sharp).
 */
export async function loadEntryWith(platform: InputPlatform, out: LoadedInputs, entry: InputEntry, options: LoadInputsOptions = {}): Promise<void> {
  const window = typeof options.window === 'string' ? parseWindow(options.window) : options.window;
  const opts = { ...options, window };
  const { input, source } = entry;
  if (entry.kind === 'failed') {
    out.failures.push({ input, error: entry.error ?? new ConfigError('cannot be read', { file: input }) });
    return;
  }
  if (entry.kind === 'dicomweb') {
    let files: Array<{ source: string; bytes: Uint8Array }>;
    try {
      files = await resolveDicomWebUrl(source, options.dicomweb);
    } catch (err) {
      out.failures.push({ input, error: asError(err) });
      return;
    }
    for (const f of files) await decodeInput(platform, out, input, f.source, f.bytes, opts, false);
    return;
  }
  let bytes: Uint8Array;
  try {
    bytes = await platform.readFile(source);
  } catch (err) {
    out.failures.push({ input: source, error: new DecodeError(`cannot read the file: ${(err as Error).message}`, { file: source, cause: err }) });
    return;
  }
  await decodeInput(platform, out, input, source, bytes, opts, entry.inFolder);
}

/**
 * Decode one input's bytes by what they are (sniffFormat) into `out`: its images, or a failure naming the file (in
 * a folder, a file that is not an image is skipped with why instead).
 */
export async function decodeInput(platform: InputPlatform, out: LoadedInputs, input: string, source: string, bytes: Uint8Array, options: LoadInputsOptions, inFolder: boolean): Promise<void> {
  const o = { ...options, window: typeof options.window === 'string' ? parseWindow(options.window) : options.window };
  const format = sniffFormat(bytes);
  if (!format) {
    const reason = 'not a DICOM, NIfTI, PNG, JPEG or TIFF file';
    if (inFolder) out.skipped.push({ input: source, reason });
    else out.failures.push({ input: source, error: new UnsupportedError(reason, { file: source }) });
    return;
  }
  try {
    if (format === 'dicom') {
      const decode = o.decodeDicom ?? decodeDicom;
      const image = await decode(bytes, { source, maxPixels: o.maxPixels });
      out.images.push({ input, image: o.window ? { ...image, windows: [o.window] } : image });
    } else if (format === 'nifti') {
      const vol = readNifti(bytes, { source, maxVoxels: o.maxVoxels });
      for (const image of niftiSlices(vol, { ...o.nifti, window: o.window })) out.images.push({ input, image });
    } else {
      out.images.push({ input, image: await platform.decodeRaster(bytes, { source, window: o.window, maxPixels: o.maxPixels }) });
    }
  } catch (err) {
    out.failures.push({ input: source, error: asError(err) });
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new ClipmedError(String(err));
}

