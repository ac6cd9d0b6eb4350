// Opening files in the page with clipmed's own readers: DICOM (decodeDicom), NIfTI (readNifti, niftiSlices),
// and PNG/JPEG through the browser's decoder into the same DecodedImage that clipmed's readRaster gives
// (values as stored, identity window for 8 bits). Display goes through clipmed's toDisplayRaster. These readers
// take bytes and import no Node module; the Node side (src/node/io/) reads files and decodes rasters with sharp.
import { decodeDicom } from '../../src/io/dicom/index.ts';
import { sniffFormat } from '../../src/io/inputs.ts';
import { readNifti, type NiftiVolume } from '../../src/io/nifti.ts';
import { niftiSlices, voxelOrientation, type Raster, type Window } from '../../src/browser.ts';
import { toDisplayRaster } from '../../src/io/raster.ts';
import type { DecodedImage } from '../../src/io/types.ts';

/** An opened file: its frames (DICOM, multi-page) or slices (NIfTI), and the one the CLI would classify. */
export interface OpenedFile {
  name: string;
  file: File;
  kind: 'dicom' | 'nifti' | 'raster';
  /** how many frames or slices can be shown */
  count: number;
  /** the frame or slice the CLI reads by default (frame 0; the middle axial slice) */
  defaultIndex: number;
  /** the image for a frame or slice index */
  image(index: number): DecodedImage;
  /** frame of image(index) to display */
  frameOf(index: number): number;
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function decodeBrowserRaster(name: string, file: File, bytes: Uint8Array): Promise<DecodedImage> {
  // the browser's decoders give 8 bits per sample: a 16-bit PNG would lose what clipmed's reader windows
  const png = bytes[0] === 0x89 && bytes[1] === 0x50;
  if (png && bytes[24] === 16) throw new Error(`${name}: a 16-bit PNG; the browser decodes only 8 bits of it, so open it in server mode`);
  if (!png && !(bytes[0] === 0xff && bytes[1] === 0xd8)) throw new Error(`${name}: TIFF is read in server mode (the browser has no TIFF decoder)`);
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const n = bitmap.width * bitmap.height;
  let grey = true;
  for (let i = 0; i < n && grey; i++) grey = rgba[4 * i] === rgba[4 * i + 1] && rgba[4 * i] === rgba[4 * i + 2];
  const samples = grey ? 1 : 3;
  const data = new Float32Array(n * samples);
  for (let i = 0; i < n; i++) for (let c = 0; c < samples; c++) data[i * samples + c] = rgba[4 * i + c]!;
  return {
    source: name,
    rows: bitmap.height,
    columns: bitmap.width,
    frames: 1,
    samplesPerPixel: samples,
    data,
    photometric: grey ? 'MONOCHROME2' : 'RGB',
    windows: [{ center: 127.5, width: 255, fn: 'LINEAR_EXACT' }],
    invert: false,
    meta: { format: file.type || 'image', bitsStored: 8 },
  };
}

export async function openFile(file: File): Promise<OpenedFile> {
  const name = file.name;
  let bytes: Uint8Array = new Uint8Array(await file.arrayBuffer());
  const format = sniffFormat(bytes);
  if (format === 'dicom') {
    const img = await decodeDicom(bytes, { source: name });
    return { name, file, kind: 'dicom', count: img.frames, defaultIndex: 0, image: () => img, frameOf: (i) => i };
  }
  if (format === 'nifti') {
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = await gunzip(bytes);
    const vol: NiftiVolume = readNifti(bytes, { source: name });
    const axis = voxelOrientation(vol.affine, name).findIndex((o) => o.world === 2);
    const n = vol.dims[axis] ?? 1;
    const cache = new Map<number, DecodedImage>();
    const image = (i: number) => {
      let hit = cache.get(i);
      if (!hit) cache.set(i, (hit = niftiSlices(vol, { index: i })[0]!));
      return hit;
    };
    // the CLI's default: the middle axial slice, named as the CLI names it
    return { name, file, kind: 'nifti', count: n, defaultIndex: Math.floor(n / 2), image, frameOf: () => 0 };
  }
  if (format === 'raster') {
    const img = await decodeBrowserRaster(name, file, bytes);
    return { name, file, kind: 'raster', count: 1, defaultIndex: 0, image: () => img, frameOf: () => 0 };
  }
  throw new Error(`${name}: not a DICOM, NIfTI, PNG, JPEG or TIFF file`);
}

/** The 8-bit raster of a frame or slice through a window (none: the file's own), as the CLI shows it. */
export function rasterOf(f: OpenedFile, index: number, window?: Window): Raster {
  return toDisplayRaster(f.image(index), f.frameOf(index), window);
}
