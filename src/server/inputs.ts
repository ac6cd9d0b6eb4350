// What a request carries: images (multipart `file` parts, a raw body, or DICOMweb URLs) and fields (multipart
// fields, a JSON body, or the query string), decoded the way `clipmed <command> FILE...` decodes files.
import type { FastifyRequest } from 'fastify';
import {
  ClipmedError, ConfigError, decodeDicom, loadInputs, niftiSlices, parseWindow, readNifti, readRaster, sniffFormat, toDisplayRaster, UnsupportedError,
  type DecodedImage, type Raster, type Window,
} from '../index.ts';

export interface RequestLimits {
  /** largest image (all frames together), in pixels */
  maxPixels: number;
  /** most images in one request */
  maxFiles: number;
  /** largest request body (all files together), bytes */
  maxBodyBytes: number;
  /** origins (e.g. http://pacs:8042) whose DICOMweb URLs the server may fetch; none by default */
  dicomwebOrigins: string[];
}

export interface RequestInput {
  files: Array<{ name: string; bytes: Uint8Array }>;
  urls: string[];
  fields: Record<string, string[]>;
}

/** One decoded image as the commands see it. */
export interface InputImage {
  source: string;
  raster: Raster;
}

/** A failed input, formatted as the CLI's `failures` list formats it. */
export interface Failure {
  input: string;
  error: string;
}

export class HttpError extends ClipmedError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const ACCEPTED = "images as multipart/form-data (field 'file', repeatable), raw bytes (application/octet-stream, application/dicom, image/*), or application/json {\"urls\": [dicomweb URLs]}";

function push(fields: Record<string, string[]>, key: string, value: unknown): void {
  if (value === undefined || value === null) return;
  const values = Array.isArray(value) ? value : [value];
  for (const v of values) (fields[key] ??= []).push(typeof v === 'string' ? v : JSON.stringify(v));
}

/** Collect files, URLs and fields from a request, whatever its content type. */
export async function readRequest(req: FastifyRequest, limits: RequestLimits): Promise<RequestInput> {
  const out: RequestInput = { files: [], urls: [], fields: {} };
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) push(out.fields, k, v);
  if (req.isMultipart()) {
    let total = 0;
    const parts = req.parts();
    const next = async () => {
      try {
        return await parts.next();
      } catch (err) {
        if ((err as { code?: string }).code === 'FST_FILES_LIMIT') throw new HttpError(`too many images in the request (limit ${limits.maxFiles})`, 413);
        throw err;
      }
    };
    for (let it = await next(); !it.done; it = await next()) {
      const part = it.value;
      if (part.type === 'file') {
        if (part.fieldname !== 'file') throw new ConfigError(`multipart file field '${part.fieldname}': images go in the field 'file'`);
        const bytes = await part.toBuffer();
        total += bytes.byteLength;
        if (total > limits.maxBodyBytes) throw new HttpError(`request body too large: more than ${limits.maxBodyBytes} bytes of files`, 413);
        out.files.push({ name: part.filename || `file${out.files.length + 1}`, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
      } else {
        push(out.fields, part.fieldname, part.value);
      }
    }
  } else if (Buffer.isBuffer(req.body)) {
    if (req.body.length > 0) out.files.push({ name: out.fields.filename?.at(-1) ?? 'upload', bytes: new Uint8Array(req.body.buffer, req.body.byteOffset, req.body.byteLength) });
  } else if (req.body && typeof req.body === 'object') {
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) push(out.fields, k, v);
  } else if (req.body !== undefined && req.body !== null && req.body !== '') {
    throw new HttpError(`content type '${req.headers['content-type']}' is not accepted: send ${ACCEPTED}`, 415);
  }
  out.urls = [...(out.fields.url ?? []), ...(out.fields.urls ?? [])];
  delete out.fields.url;
  delete out.fields.urls;
  if (out.files.length + out.urls.length > limits.maxFiles) throw new HttpError(`too many images: ${out.files.length + out.urls.length} (limit ${limits.maxFiles})`, 413);
  return out;
}

/** The last value of a field, or undefined. */
export function field(input: RequestInput, name: string): string | undefined {
  return input.fields[name]?.at(-1);
}

/** A boolean field: true/1/on/yes or false/0/off/no (absent: false). */
export function flag(input: RequestInput, name: string): boolean {
  const v = field(input, name);
  if (v === undefined) return false;
  if (/^(true|1|on|yes|)$/i.test(v)) return true;
  if (/^(false|0|off|no)$/i.test(v)) return false;
  throw new ConfigError(`field '${name}': expected true or false, got ${JSON.stringify(v)}`);
}

/** A number field within [min, max], or the default. */
export function numberField(input: RequestInput, name: string, fallback: number | undefined, min = -Infinity, max = Infinity): number | undefined {
  const v = field(input, name);
  if (v === undefined || v === '') return fallback;
  const x = Number(v);
  if (!Number.isFinite(x) || x < min || x > max) throw new ConfigError(`field '${name}': expected a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return x;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function decodeBytes(name: string, bytes: Uint8Array, o: { window?: Window; maxPixels: number }): Promise<DecodedImage[]> {
  const format = sniffFormat(bytes);
  if (!format) throw new UnsupportedError('not a DICOM, NIfTI, PNG, JPEG or TIFF file', { file: name });
  if (format === 'dicom') {
    const image = await decodeDicom(bytes, { source: name, maxPixels: o.maxPixels });
    return [o.window ? { ...image, windows: [o.window] } : image];
  }
  if (format === 'nifti') return niftiSlices(readNifti(bytes, { source: name, maxVoxels: o.maxPixels }), { window: o.window });
  return [await readRaster(bytes, { source: name, window: o.window, maxPixels: o.maxPixels })];
}

/**
 * Decode every image of a request into the 8-bit rasters the CLI's commands see (same decoders, same window,
 * same frame), with failures collected. When no image decodes, the first failure is thrown so that the
 * response carries its status (422 malformed, 413 too large, 415 unsupported).
 */
export async function decodeImages(input: RequestInput, limits: RequestLimits): Promise<{ images: InputImage[]; failures: Failure[] }> {
  const w = field(input, 'window');
  const window = w ? parseWindow(w) : undefined;
  const frame = numberField(input, 'frame', 0, 0) ?? 0;
  if (!Number.isInteger(frame)) throw new ConfigError(`field 'frame': expected a whole number, got ${frame}`);
  // the server fetches only from origins its operator allowed (no request can make it reach anywhere else)
  for (const url of input.urls) {
    const origin = dicomwebOrigin(url);
    if (!limits.dicomwebOrigins.includes(origin)) {
      throw new HttpError(`DICOMweb origin ${origin} is not allowed: start the server with --dicomweb-origin ${origin}`, 403);
    }
  }
  const images: InputImage[] = [];
  const failures: Failure[] = [];
  const errors: unknown[] = [];
  const take = (decoded: DecodedImage) => {
    try {
      images.push({ source: decoded.source, raster: toDisplayRaster(decoded, frame) });
    } catch (err) {
      failures.push({ input: decoded.source, error: describe(err) });
      errors.push(err);
    }
  };
  for (const f of input.files) {
    try {
      for (const d of await decodeBytes(f.name, f.bytes, { window, maxPixels: limits.maxPixels })) take(d);
    } catch (err) {
      failures.push({ input: f.name, error: describe(err) });
      errors.push(err);
    }
  }
  if (input.urls.length > 0) {
    const loaded = await loadInputs(input.urls, { window, maxPixels: limits.maxPixels, maxVoxels: limits.maxPixels });
    for (const f of loaded.failures) {
      failures.push({ input: f.input, error: describe(f.error) });
      errors.push(f.error);
    }
    // a study or series URL expands to its instances: the file limit holds for what it expanded to
    if (loaded.images.length + input.files.length > limits.maxFiles) {
      throw new HttpError(`too many images: the request's URLs hold ${loaded.images.length} instances (limit ${limits.maxFiles} images per request)`, 413);
    }
    for (const { image } of loaded.images) take(image);
  }
  if (images.length === 0) {
    if (errors.length > 0) throw errors[0];
    throw new ConfigError(`no images in the request: send ${ACCEPTED}`);
  }
  return { images, failures };
}

/** scheme://host:port of a dicomweb+http(s):// URL (or of a plain http(s) URL). */
export function dicomwebOrigin(url: string): string {
  try {
    const u = new URL(url.replace(/^dicomweb\+/, ''));
    return `${u.protocol}//${u.host}`;
  } catch {
    throw new ConfigError(`not a URL: ${JSON.stringify(url.slice(0, 200))}`);
  }
}
