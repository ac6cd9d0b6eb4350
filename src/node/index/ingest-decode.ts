// One index input's bytes (read and hashed by the ingest, src/node/index/ingest.ts) to its rows' rasters, model
// inputs and non-identifying metadata. The same function runs in the decode pool's worker threads
// (src/node/decode-pool.ts) and, with no workers, on the calling thread, so both give the same rows.
import { createHash } from 'node:crypto';
import dicomParser from 'dicom-parser';
import { UnsupportedError } from '../../errors.ts';
import type { Raster } from '../../image/types.ts';
import type { IndexRow } from '../../index/table.ts';
import { decodeDicom } from '../../io/dicom/index.ts';
import { decodeInput, sniffFormat, type LoadedInputs } from '../../io/inputs.ts';
import { toDisplayRaster } from '../../io/raster.ts';
import type { DecodedImage } from '../../io/types.ts';
import { preprocessForModel, type ImageInputSpec } from '../../models/clip-model-core.ts';
import { decodeImageBytes } from '../image-decode.ts';
import { nodeInputPlatform } from '../io/inputs.ts';

/** One fetched input to decode: plain data, so that it can be sent to a worker (its bytes moved, not copied). */
export interface IngestJob {
  /** what the row's source column says: the file, or a DICOMweb instance's URL */
  source: string;
  bytes: Uint8Array;
  /** found inside a folder: a file that is not an image is skipped, not a failure */
  inFolder: boolean;
  /** an instance retrieved from DICOMweb (DICOM only) */
  dicomweb: boolean;
  /** display window for DICOM and NIfTI files (preset or "center,width") */
  window?: string;
  /** one row per frame of multi-frame DICOM */
  frames?: boolean;
  /** keep DICOM UIDs as they are instead of salted hashes */
  phi: boolean;
  /** the database's salt for the UIDs' hashes */
  salt: string;
}

export interface IngestImage {
  /** the row's path: the file, a NIfTI slice's name, or `file#frame=N` */
  path: string;
  frame: number;
  raster: Raster;
  /** [3, H, W] float32 model input, when the model's input spec was given */
  pixels?: Float32Array;
  meta: Partial<IndexRow>;
}

export interface IngestResult<E = Error> {
  images: IngestImage[];
  /** why the input gave no rows (the whole input fails: no frame of it is written) */
  failure?: E;
  /** a file in a folder that is not an image */
  skipped?: string;
  /** an error that is not about this input (the model's protocol does not fit its input size): the run stops */
  fatal?: E;
}

/**
 * Decode as `clipmed embed` does: PNG/JPEG/TIFF through the PIL-equivalent decoder, DICOM and NIfTI through the
 * medical readers and their display window; then (with `input`) each raster's model input.
 * @example const r = await decodeIngest({ source, bytes, inFolder: false, dicomweb: false, phi: false, salt }, model.imageInput);
 *   r.images[0].meta.modality // 'CT'
 */
export async function decodeIngest(job: IngestJob, input?: ImageInputSpec): Promise<IngestResult> {
  let images: IngestImage[];
  try {
    const format = sniffFormat(job.bytes.subarray(0, 400));
    if (!format) {
      const reason = 'not a DICOM, NIfTI, PNG, JPEG or TIFF file';
      if (job.inFolder) return { images: [], skipped: reason };
      throw new UnsupportedError(reason, { file: job.source });
    }
    if (format === 'raster' && !job.dicomweb) {
      images = [{ path: job.source, frame: 0, raster: await decodeImageBytes(job.bytes, job.source), meta: {} }];
    } else {
      images = rowsOf(await decodeMedical(job, format), job, format);
    }
  } catch (err) {
    return { images: [], failure: err instanceof Error ? err : new Error(String(err)) };
  }
  if (input) {
    for (const im of images) {
      try {
        im.pixels = preprocessForModel([im.raster], input);
      } catch (err) {
        return { images: [], fatal: err instanceof Error ? err : new Error(String(err)) };
      }
    }
  }
  return { images };
}

/** DICOM (a file or a DICOMweb instance) and NIfTI to decoded images; the first failure is thrown. */
async function decodeMedical(job: IngestJob, format: 'dicom' | 'nifti' | 'raster'): Promise<DecodedImage[]> {
  if (job.dicomweb) {
    if (format !== 'dicom') throw new UnsupportedError(`DICOMweb returned a ${format} file, not DICOM`, { file: job.source });
    return [await decodeDicom(job.bytes, { source: job.source })];
  }
  const out: LoadedInputs = { images: [], failures: [], skipped: [] };
  await decodeInput(nodeInputPlatform, out, job.source, job.source, job.bytes, { window: job.window }, false);
  if (out.failures.length > 0) throw out.failures[0]!.error;
  return out.images.map((x) => x.image);
}

/** Each image's display raster, one per frame with `frames`, with the row's metadata. */
function rowsOf(decoded: DecodedImage[], job: IngestJob, format: string): IngestImage[] {
  const out: IngestImage[] = [];
  for (const image of decoded) {
    const meta = rowMeta(image, job.bytes, format, job.salt, job.phi);
    const frames = job.frames && image.frames > 1 ? image.frames : 1;
    for (let fr = 0; fr < frames; fr++) {
      const path = frames > 1 ? `${image.source}#frame=${fr}` : image.source;
      out.push({ path, frame: fr, raster: toDisplayRaster(image, fr), meta });
    }
  }
  return out;
}

/** A UID as stored: salted sha256 (first 32 hex digits) unless PHI is allowed. */
export function storedUid(uid: unknown, salt: string, phi: boolean): string | undefined {
  if (typeof uid !== 'string' || uid === '') return undefined;
  return phi ? uid : createHash('sha256').update(salt).update('\0').update(uid).digest('hex').slice(0, 32);
}

/** The non-identifying metadata of a row: modality, body part, hashed UIDs. Never names, IDs or dates. */
function rowMeta(image: DecodedImage, bytes: Uint8Array, format: string, salt: string, phi: boolean): Partial<IndexRow> {
  const m = image.meta;
  const out: Partial<IndexRow> = { phi };
  if (typeof m.modality === 'string' && m.modality !== '') out.modality = m.modality;
  if (format === 'dicom') {
    out.bodyPart = bodyPartOf(bytes);
    out.studyUid = storedUid(m.studyInstanceUID, salt, phi);
    out.seriesUid = storedUid(m.seriesInstanceUID, salt, phi);
    out.instanceUid = storedUid(m.sopInstanceUID, salt, phi);
  }
  return out;
}

/** Body Part Examined (0018,0015), which the pixel decoder does not report. */
function bodyPartOf(bytes: Uint8Array): string | undefined {
  try {
    const ds = dicomParser.parseDicom(bytes, { untilTag: 'x7fe00010' });
    const v = ds.string('x00180015')?.trim();
    return v ? v : undefined;
  } catch {
    return undefined; // bare data sets dicom-parser cannot read without a meta group: no body part, the pixels decoded
  }
}
