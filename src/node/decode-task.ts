// One planned input (a file or a dicomweb URL) to what the model needs: the 8-bit display rasters it holds
// (a NIfTI volume or a DICOMweb study may give several) and, when a model's input spec is given, each one's
// model input [3, H, W]. The same function runs in the decode pool's worker threads and, with no workers, on the
// calling thread, so both give the same bytes and floats. Errors are sent as plain data and made again on the
// other side with the same class, name and message (see `errorToWire` / `errorFromWire`).
import { ClipmedError, CheckpointError, ConfigError, DecodeError, LimitError, NetworkError, SecurityError, ShapeError, UnsupportedError } from '../errors.ts';
import { readFile } from 'node:fs/promises';
import { decodeInput, sniffFormat } from '../io/inputs.ts';
import { loadEntry, nodeInputPlatform, type InputEntry, type LoadedInputs } from './io/inputs.ts';
import { decodeImageBytes } from './image-decode.ts';
import { toDisplayRaster } from '../io/raster.ts';
import type { Raster } from '../image/types.ts';
import { preprocessForModel, type ImageInputSpec } from '../models/clip-model-core.ts';
// what the package entry registers on the main thread, registered here too for the worker threads
import './io/dicom-codecs.ts';
import './native-crc.ts';

export interface DecodeTaskOptions {
  /** display window for every image (preset or "center,width"), as `--window` */
  window?: string;
  /** frame of multi-frame images */
  frame?: number;
  /** the model's input spec: also make each raster's model input (`model.imageInput`) */
  input?: ImageInputSpec;
  /**
   * PNG/JPEG/TIFF/WebP files as `decodeImageFile` gives them (what PIL's `convert('RGB')` hands open_clip's
   * transform: 8-bit only, no window; 16-bit files refused), DICOM and NIfTI through their window; a file that
   * cannot be read fails with the system's error. How `clipmed embed` has always read its --image files.
   */
  pilRasters?: boolean;
}

/** An entry as it can cross to a worker: `error` of a 'failed' entry never does (those are answered in place). */
export type WireEntry = Omit<InputEntry, 'error'>;

export interface DecodedImageItem {
  /** the input as the user named it (a folder for the files inside it) */
  input: string;
  /** the file or URL the image came from (a NIfTI slice adds its axis and index) */
  source: string;
  raster: Raster;
  /** [3, H, W] float32 model input, when `input` was given */
  pixels?: Float32Array;
}

/** What one entry gave, in the order the sequential path reports it: images, and failures naming their file. */
export interface DecodeTaskResult<E = Error> {
  images: DecodedImageItem[];
  failures: Array<{ input: string; error: E }>;
  /** an error that is not about one file (the model's protocol does not fit its input size): the command stops */
  fatal?: E;
}

/** Decode one entry: read, decode, window to 8 bits, and (with `input`) preprocess. Never throws for a bad file. */
export async function decodeTask(entry: InputEntry, o: DecodeTaskOptions): Promise<DecodeTaskResult> {
  const out: LoadedInputs = { images: [], failures: [], skipped: [] };
  // a PNG/JPEG/TIFF/WebP raster already 8-bit, as the PIL-equivalent decoder gives it (pilRasters)
  let direct: Raster | undefined;
  if (o.pilRasters && entry.kind === 'file') direct = await loadPil(out, entry, o.window);
  else await loadEntry(out, entry, { window: o.window });
  const result: DecodeTaskResult = { images: [], failures: [...out.failures] };
  const decoded: Array<{ input: string; source: string; display: () => Raster }> = direct
    ? [{ input: entry.input, source: entry.source, display: () => direct }]
    : out.images.map(({ input, image }) => ({ input, source: image.source, display: () => toDisplayRaster(image, o.frame ?? 0) }));
  for (const { input, source, display } of decoded) {
    let raster: Raster;
    try {
      raster = display();
    } catch (err) {
      result.failures.push({ input: source, error: asError(err) });
      continue;
    }
    const item: DecodedImageItem = { input, source, raster };
    if (o.input) {
      try {
        item.pixels = preprocessForModel([raster], o.input);
      } catch (err) {
        // as embedRasters would have thrown it for the batch: not a failure of this file
        result.fatal = asError(err);
        return result;
      }
    }
    result.images.push(item);
  }
  return result;
}

/**
 * Read one file as `clipmed embed` does: DICOM and NIfTI (by their first bytes) into `out` through the medical
 * readers and `window`; anything else through the PIL-equivalent decoder, returned as its raster. Failures go to
 * `out` naming the file (a read error as the system gave it, so a missing file reads as one).
 */
async function loadPil(out: LoadedInputs, entry: InputEntry, window: string | undefined): Promise<Raster | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(entry.source);
  } catch (err) {
    out.failures.push({ input: entry.source, error: asError(err) });
    return undefined;
  }
  const format = sniffFormat(bytes.subarray(0, 400));
  if (format === 'dicom' || format === 'nifti') {
    await decodeInput(nodeInputPlatform, out, entry.input, entry.source, bytes, { window }, entry.inFolder);
    return undefined;
  }
  try {
    return await decodeImageBytes(bytes, entry.source);
  } catch (err) {
    out.failures.push({ input: entry.source, error: asError(err) });
    return undefined;
  }
}

/** An error as structured-clone data: its class name, message (which already names the file) and the fields readers use. */
export interface WireError {
  name: string;
  message: string;
  file?: string;
  code?: string;
  path?: string;
  stack?: string;
}

const CLASSES: Record<string, new (message: string, options?: { file?: string }) => ClipmedError> = {
  ClipmedError, ConfigError, ShapeError, DecodeError, UnsupportedError, SecurityError, CheckpointError, LimitError, NetworkError,
};

export function errorToWire(err: Error): WireError {
  const e = err as Error & { file?: string; code?: unknown; path?: unknown };
  return {
    name: e.name,
    message: e.message,
    file: typeof e.file === 'string' ? e.file : undefined,
    code: typeof e.code === 'string' ? e.code : undefined,
    path: typeof e.path === 'string' ? e.path : undefined,
    stack: e.stack,
  };
}

/** The error again, of the same class where it is one of clipmed's, with the same name and message. */
export function errorFromWire(w: WireError): Error {
  const Cls = CLASSES[w.name];
  let e: Error;
  if (Cls) {
    e = new Cls('', { file: w.file });
  } else {
    e = new Error('');
    e.name = w.name;
    if (w.code !== undefined) (e as NodeJS.ErrnoException).code = w.code;
    if (w.path !== undefined) (e as NodeJS.ErrnoException).path = w.path;
  }
  e.message = w.message;
  if (w.stack) e.stack = w.stack;
  return e;
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new ClipmedError(String(err));
}
