// `--prior IMAGE` of embed and classify: a previous image of the same patient, compared with each input by a
// model with a temporal image tower (BioViL-T). Read as the inputs are (DICOM and NIfTI through their window).
import { readFile } from 'node:fs/promises';
import { ConfigError, decodeImageFile, embedWithPrior, loadInputs, sniffFormat, takesPrior, toDisplayRaster, type ClipModel, type ImageEmbeddings, type Raster } from '../index.ts';

export const PRIOR_HELP = "a previous image of the same patient, for a model with a temporal image tower (BioViL-T): each input image is embedded against it (hi-ml's MultiImageModel with previous_image)";

/** The --prior image, after checking that the model can take one. */
export async function readPrior(model: ClipModel, path: string, window?: string): Promise<Raster> {
  if (!takesPrior(model)) throw new ConfigError(`--prior: ${model.source.name} has no image path for a previous image; BioViL-T (--model biovil-t) has one`);
  let head: Uint8Array;
  try {
    head = new Uint8Array(await readFile(path)).subarray(0, 400);
  } catch (e) {
    throw new ConfigError(`--prior: cannot read the previous image: ${(e as Error).message}`, { file: path });
  }
  if (sniffFormat(head) === 'dicom' || sniffFormat(head) === 'nifti') {
    const loaded = await loadInputs([path], { window });
    if (loaded.failures.length > 0) throw loaded.failures[0]!.error;
    if (loaded.images.length !== 1) throw new ConfigError(`--prior: expected one image, the file holds ${loaded.images.length}`, { file: path });
    return toDisplayRaster(loaded.images[0]!.image);
  }
  return decodeImageFile(path);
}

/** Embed rasters each against the same previous image. */
export function embedAgainstPrior(model: ClipModel, rasters: Raster[], prior: Raster, o: { normalize?: boolean; batchSize?: number }): Promise<ImageEmbeddings> {
  return embedWithPrior(model, rasters, rasters.map(() => prior), o);
}
