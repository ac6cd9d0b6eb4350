// Turning what the user named (files, folders, DICOM, NIfTI, DICOMweb URLs, a manifest) into 8-bit rasters
// as a reader would see them, with failures collected rather than fatal.
import { loadEntry, planInputs, readManifest, toDisplayRaster, type InputEntry, type LoadedInputs, type Raster, type ManifestRow } from '../index.ts';
import { redact } from './output.ts';
import { Failures } from './shared.ts';

export interface ImageInputOptions {
  manifest?: string;
  split?: string;
  labelColumn?: string;
  window?: string;
  frame?: string;
}

export interface InputImage {
  /** what the user named (a file, a folder member, a URL) */
  source: string;
  raster: Raster;
  /** label from the manifest, if any */
  label?: string;
}

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
export async function openImages(inputs: string[], o: ImageInputOptions, failures: Failures): Promise<ImageStream> {
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
  const decode = async (entries: InputEntry[]): Promise<InputImage[]> => {
    const out: LoadedInputs = { images: [], failures: [], skipped: [] };
    for (const e of entries) await loadEntry(out, e, { window: o.window });
    for (const f of out.failures) failures.add(f.input, f.error);
    const images: InputImage[] = [];
    for (const { input, image } of out.images) {
      try {
        images.push({ source: redact(image.source), raster: toDisplayRaster(image, frame), label: labels.get(input) });
      } catch (err) {
        failures.add(image.source, err);
      }
    }
    return images;
  };
  return {
    total: plan.entries.length,
    manifestRows,
    async *chunks(size: number) {
      const n = plan.entries.length;
      let next = n > 0 ? decode(plan.entries.slice(0, size)) : undefined;
      for (let i = 0; i < n; i += size) {
        const current = await next!;
        next = i + size < n ? decode(plan.entries.slice(i + size, i + 2 * size)) : undefined;
        // a rejected prefetch is awaited in the next round; keep it from being reported as unhandled meanwhile
        next?.catch(() => {});
        if (current.length > 0) yield current;
      }
    },
  };
}
