// One entry point for "the images the user named": files, folders (recursive, sorted) and dicomweb+http(s)
// URLs, each decoded by what its bytes are (not its name): DICOM, NIfTI (.nii/.nii.gz) or PNG/JPEG/TIFF.
// A file that fails is reported with its error and the rest go on; nothing is dropped without a record.
import type { Stats } from 'node:fs';
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ClipmedError, ConfigError, DecodeError, UnsupportedError } from '../errors.ts';
import { parseWindow, type Window } from '../image/window.ts';
import { isDicomWebUrl, resolveDicomWebUrl, type DicomWebOptions } from './dicomweb.ts';
import { looksLikeNifti, readNifti } from './nifti.ts';
import { niftiSlices, type NiftiSliceOptions } from './nifti-slices.ts';
import { looksLikeRaster, readRaster } from './raster.ts';
import type { DecodedImage } from './types.ts';
import { decodeDicom } from './dicom/index.ts';

export type DicomDecoder = (bytes: Uint8Array, options: { source: string; frame?: number; maxPixels?: number }) => Promise<DecodedImage>;

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

/**
 * Read and decode files, folders and dicomweb URLs, collecting failures instead of stopping.
 * @example
 * const { images, failures } = await loadInputs(['scans/', 'brain.nii.gz', 'dicomweb+http://pacs/dicom-web/studies/1.2.3']);
 * images.map((x) => x.image.source) // ['scans/a.dcm', 'scans/b.png', 'brain.nii.gz#axial=90', 'dicomweb+http://...']
 */
export async function loadInputs(pathsOrUrls: string[], options: LoadInputsOptions = {}): Promise<LoadedInputs> {
  const plan = await planInputs(pathsOrUrls);
  const out: LoadedInputs = { images: [], failures: [], skipped: plan.skipped };
  for (const entry of plan.entries) await loadEntry(out, entry, options);
  return out;
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
 * What `loadInputs` would decode, without reading any file: folders walked (paths only), in order, with the
 * inputs that cannot be read at all as 'failed' entries in their place. Memory is a path per file, so a
 * caller can stream the entries through `loadEntry` in bounded batches.
 * @example const { entries } = await planInputs(['scans/']); entries.length // 5840
 */
export async function planInputs(pathsOrUrls: string[]): Promise<{ entries: InputEntry[]; skipped: LoadedInputs['skipped'] }> {
  const entries: InputEntry[] = [];
  const failed = (input: string, error: Error) => entries.push({ input, source: input, kind: 'failed', inFolder: false, error });
  const skipped: LoadedInputs['skipped'] = [];
  for (const input of pathsOrUrls) {
    if (isDicomWebUrl(input)) {
      entries.push({ input, source: input, kind: 'dicomweb', inFolder: false });
      continue;
    }
    try {
      const st = await stat(input);
      const inFolder = st.isDirectory();
      // a FIFO or device named directly would block readFile forever, or read something that is not a file
      if (!inFolder && !st.isFile()) {
        failed(input, new UnsupportedError(`not a regular file or folder (${kindOf(st)})`, { file: input }));
        continue;
      }
      for (const file of inFolder ? await walk(input, skipped) : [input]) entries.push({ input, source: file, kind: 'file', inFolder });
    } catch (err) {
      const code = (err as { code?: string }).code;
      failed(input, code === 'ENOENT' ? new ConfigError('no such file or folder', { file: input, cause: err }) : asError(err));
    }
  }
  return { entries, skipped };
}

/** Read and decode one planned entry into `out` (images, or a failure or skip with its reason). */
export async function loadEntry(out: LoadedInputs, entry: InputEntry, options: LoadInputsOptions = {}): Promise<void> {
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
    for (const f of files) await decodeInto(out, input, f.source, f.bytes, opts, false);
    return;
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(source);
  } catch (err) {
    out.failures.push({ input: source, error: new DecodeError(`cannot read the file: ${(err as Error).message}`, { file: source, cause: err }) });
    return;
  }
  await decodeInto(out, input, source, bytes, opts, entry.inFolder);
}

async function decodeInto(out: LoadedInputs, input: string, source: string, bytes: Uint8Array, o: LoadInputsOptions & { window?: Window }, inFolder: boolean): Promise<void> {
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
      out.images.push({ input, image: await readRaster(bytes, { source, window: o.window, maxPixels: o.maxPixels }) });
    }
  } catch (err) {
    out.failures.push({ input: source, error: asError(err) });
  }
}

/**
 * Files under a folder, recursively, sorted by path (byte order) so runs are reproducible. Symbolic links are
 * followed (Hugging Face snapshots, DVC and git-annex folders are links to blobs), folders once each; what cannot
 * be read as a file is listed in `skipped` with why: broken links, FIFOs, sockets, devices, names that are not
 * UTF-8 (they cannot be named in a report). Nothing is left out without a record.
 */
async function walk(dir: string, skipped: LoadedInputs['skipped'], seen = new Set<string>()): Promise<string[]> {
  seen.add(await realpath(dir));
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true, encoding: 'buffer' })).sort((a, b) => Buffer.compare(a.name, b.name));
  for (const e of entries) {
    const name = utf8Name(e.name);
    if (name === undefined) {
      skipped.push({ input: join(dir, e.name.toString('latin1')), reason: `the name is not valid UTF-8 (bytes ${e.name.toString('hex')}); rename it to read it` });
      continue;
    }
    const p = join(dir, name);
    let st: Stats = e as unknown as Stats;
    if (e.isSymbolicLink()) {
      try {
        st = await stat(p);
      } catch {
        skipped.push({ input: p, reason: `broken symbolic link (to ${await readlink(p).catch(() => '?')})` });
        continue;
      }
    }
    if (st.isDirectory()) {
      const real = await realpath(p);
      if (seen.has(real)) skipped.push({ input: p, reason: `a link to ${real}, a folder already read (a loop)` });
      else out.push(...(await walk(p, skipped, seen)));
    } else if (st.isFile()) out.push(p);
    else skipped.push({ input: p, reason: `not a regular file (${kindOf(st)})` });
  }
  return out;
}

function utf8Name(raw: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return undefined;
  }
}

function kindOf(st: Pick<Stats, 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice'>): string {
  return st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a file';
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new ClipmedError(String(err));
}

