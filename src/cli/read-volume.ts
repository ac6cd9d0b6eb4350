// clipmed read --volume: a DICOM series (a folder) or an enhanced multi-frame file as one 3D volume, its
// geometry as JSON (affine in NIfTI's RAS+ convention, spacing, orientation) and its voxels as .npy.
import { randomBytes } from 'node:crypto';
import { rename, writeFile, unlink } from 'node:fs/promises';
import { ConfigError, readSeriesVolume, writeNpy, type DicomVolume } from '../index.ts';

export interface VolumeReadOptions {
  json?: boolean;
  npy?: string;
  series?: string;
  maxPixels?: string;
}

/** What --json prints about a volume (no voxel values, no patient identifiers). */
export function volumeSummary(v: DicomVolume): Record<string, unknown> {
  return {
    source: v.source,
    seriesInstanceUID: v.seriesInstanceUID,
    modality: v.modality,
    shape: [v.dims[2], v.dims[1], v.dims[0]],
    dims: v.dims,
    spacing: v.spacing,
    affine: v.affine,
    orientation: v.orientation,
    imageOrientationPatient: v.directions,
    slices: v.slices.map((s) => ({ source: s.source, ...(s.frame !== undefined ? { frame: s.frame } : {}), instanceNumber: s.instanceNumber, position: s.position })),
  };
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/** Read one input as a volume, print it, write the .npy; errors propagate as typed errors. */
export async function readVolume(inputs: string[], o: VolumeReadOptions): Promise<void> {
  if (inputs.length !== 1) throw new ConfigError(`--volume reads one series (a folder or one file), ${inputs.length} inputs given`);
  const input = inputs[0]!;
  const v = await readSeriesVolume(input, { series: o.series, maxVoxels: o.maxPixels ? Number(o.maxPixels) : undefined });
  const shape = [v.dims[2], v.dims[1], v.dims[0]];
  const written: { file: string; what: string }[] = [];
  if (o.npy) {
    // voxel (i, j, k) at data[i + I*(j + J*k)]: C order [slices, rows, columns]
    await writeAtomic(o.npy, writeNpy(v.data, shape));
    written.push({ file: o.npy, what: `float32 [${shape.join(', ')}] = [slices, rows, columns], after each slice's rescale; voxel (i, j, k) is array[k, j, i]` });
  }
  if (o.json) {
    console.log(JSON.stringify({ ...volumeSummary(v), ...(written.length ? { written } : {}) }, null, 2));
    return;
  }
  console.log(`${v.source}: ${v.modality ? `${v.modality} ` : ''}volume ${v.dims.join('x')} (columns x rows x slices), ${v.orientation}, spacing ${v.spacing.map((s) => +s.toFixed(4)).join(' x ')} mm`);
  console.log(`  affine (RAS+): ${v.affine.slice(0, 3).map((r) => `[${r.map((x) => +x.toFixed(4)).join(', ')}]`).join(' ')}`);
  for (const f of written) console.log(`  wrote ${f.file} (${f.what})`);
}
