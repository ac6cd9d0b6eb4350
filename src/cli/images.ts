// Turning what the user named (files, folders, DICOM, NIfTI, DICOMweb URLs, a manifest) into 8-bit rasters
// as a reader would see them, with failures collected rather than fatal.
import { loadInputs, readManifest, toDisplayRaster, type Raster, type ManifestRow } from '../index.ts';
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

export async function loadImages(inputs: string[], o: ImageInputOptions, failures: Failures): Promise<{ images: InputImage[]; manifestRows: ManifestRow[] }> {
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
  const loaded = await loadInputs(names, { window: o.window });
  for (const f of loaded.failures) failures.add(f.input, f.error);
  const frame = o.frame ? Number(o.frame) : 0;
  const images: InputImage[] = [];
  for (const { input, image } of loaded.images) {
    try {
      images.push({ source: redact(image.source), raster: toDisplayRaster(image, frame), label: labels.get(input) });
    } catch (err) {
      failures.add(image.source, err);
    }
  }
  return { images, manifestRows };
}
