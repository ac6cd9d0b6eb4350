// Turning what the user named (files, folders, DICOM, NIfTI, DICOMweb URLs, a manifest) into 8-bit rasters
// as a reader would see them, with failures collected rather than fatal.
import { attachModelInput, decodeInOrder, DecodePool, planInputs, poolThreads, readManifest, type ImageInputSpec, type Raster, type ManifestRow } from '../index.ts';
import { redact } from './output.ts';
import { Failures } from './shared.ts';

export interface ImageInputOptions {
  manifest?: string;
  split?: string;
  labelColumn?: string;
  window?: string;
  frame?: string;
  /** worker threads that decode and preprocess (0: on the main thread); default from the cores */
  decodeThreads?: string;
}

export interface InputImage {
  /** what the user named (a file, a folder member, a URL) */
  source: string;
  raster: Raster;
  /** label from the manifest, if any */
  label?: string;
}

export const DECODE_THREADS_HELP = 'worker threads that decode and preprocess images while the model runs (0: on the main thread; default: half the cores, 1 to 4, and none for a first chunk\'s worth of inputs when that is 1)';

export const INPUT_HELP = 'image files, folders (recursive), DICOM, NIfTI (.nii/.nii.gz: middle axial slice) or dicomweb+http(s):// URLs';

/** Every image at once, in order (for commands whose work needs them all together); `openImages` streams them. */
export async function loadImages(inputs: string[], o: ImageInputOptions, failures: Failures): Promise<{ images: InputImage[]; manifestRows: ManifestRow[] }> {
  const stream = await openImages(inputs, o, failures);
  const images: InputImage[] = [];
  for await (const chunk of stream.chunks(64)) images.push(...chunk);
  return { images, manifestRows: stream.manifestRows };
}

export interface ImageStream {
  /** files and URLs planned (a NIfTI file or a DICOMweb study may give several images) */
  total: number;
  /** manifest rows, when a manifest was read */
  manifestRows: ManifestRow[];
  /**
   * The images in order, `size` at a time. While the caller works on one chunk the next is read and decoded,
   * so decoding hides behind inference, and at most two chunks are held: memory does not grow with the number
   * of inputs.
   */
  chunks(size: number): AsyncGenerator<InputImage[]>;
}

/**
 * `loadImages` as a stream: folders are walked to paths first (for the total), then files are decoded chunk by
 * chunk, failures collected as they come.
 * @example for await (const chunk of (await openImages(['scans/'], {}, failures)).chunks(32)) await embed(chunk)
 */
export async function openImages(inputs: string[], o: ImageInputOptions, failures: Failures, model?: { imageInput: ImageInputSpec }): Promise<ImageStream> {
  const names = [...inputs];
  let manifestRows: ManifestRow[] = [];
  const labels = new Map<string, string | undefined>();
  if (o.manifest) {
    const m = await readManifest(o.manifest, { split: o.split, labelColumn: o.labelColumn });
    for (const r of m.missing) failures.add(r.path, new Error(`listed in ${o.manifest} but missing`));
    manifestRows = m.rows;
    for (const r of m.rows) {
      names.push(r.path);
      labels.set(r.path, r.label);
    }
  }
  const plan = await planInputs(names);
  const frame = o.frame ? Number(o.frame) : 0;
  // checked before anything is read, so a bad value stops the command at once; one file is not worth a thread
  // (the callers' chunks are at least 32 inputs)
  const threads = poolThreads(o.decodeThreads, plan.entries.length, 32);
  // the workers start loading now, while the caller is still busy (its prompts, say), and are ready for the first chunk
  const options = { window: o.window, frame, input: model?.imageInput };
  let warm: DecodePool | undefined = plan.entries.length > 0 ? new DecodePool(threads, options).warm() : undefined;
  return {
    total: plan.entries.length,
    manifestRows,
    async *chunks(size: number) {
      // decoded (and preprocessed, for a model) in worker threads, in order, at most one chunk ahead of the caller
      const pool = warm ?? new DecodePool(threads, options);
      warm = undefined;
      try {
        let chunk: InputImage[] = [];
        let entries = 0;
        for await (const r of decodeInOrder(pool, plan.entries, size)) {
          for (const f of r.failures) failures.add(f.input, f.error);
          if (r.fatal) throw r.fatal;
          for (const im of r.images) {
            // the model input made in the worker goes with the raster: the model's preprocessRasters takes it as it is
            if (model && im.pixels) attachModelInput(im.raster, model.imageInput, im.pixels);
            chunk.push({ source: redact(im.source), raster: im.raster, label: labels.get(im.input) });
          }
          if (++entries === size) {
            if (chunk.length > 0) yield chunk;
            chunk = [];
            entries = 0;
          }
        }
        if (chunk.length > 0) yield chunk;
      } finally {
        await pool.close();
      }
    },
  };
}

