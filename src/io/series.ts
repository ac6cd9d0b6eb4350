// DICOM series to 3D volumes: instances grouped by Series Instance UID, slices sorted by their position along
// the slice normal (ImagePositionPatient . (row direction x column direction), PS3.3 C.7.6.2.1.1), not by
// instance number; spacing checked, each slice's own rescale applied; the affine in NIfTI's RAS+ convention,
// so that a series and its NIfTI conversion (dcm2niix, nibabel) give the same voxels at the same places.
// Multi-frame enhanced CT/MR (PS3.3 C.7.6.16: per-frame Plane Position and Pixel Value Transformation) reads
// the same way, one frame per slice. Bytes in, no file access: readSeriesDir (src/node/io/series-files.ts) reads folders.
import { ClipmedError, ConfigError, DecodeError } from '../errors.ts';
import { decodeDicom, DEFAULT_MAX_DICOM_VALUES } from './dicom/index.ts';
import { num, parseDataSet, str, type DataSet } from './dicom/dataset.ts';
import { axisCodes } from './nifti-slices.ts';
import type { Window } from '../image/window.ts';
import type { DecodedImage } from './types.ts';

/** What is wrong with a series as a volume. */
export type SeriesProblem = 'gap' | 'duplicate' | 'orientation' | 'size' | 'geometry' | 'tilt' | 'colour';

/** A series that cannot be one volume: `problem` says why, the message names the slices. */
export class SeriesError extends DecodeError {
  constructor(readonly problem: SeriesProblem, message: string, options: { file?: string } = {}) {
    super(message, options);
  }
}

export interface SeriesInstance {
  /** path or URL, for messages */
  source: string;
  bytes: Uint8Array;
}

export interface VolumeSlice {
  source: string;
  frame?: number;
  instanceNumber?: number;
  /** ImagePositionPatient (LPS, mm) */
  position: number[];
}

/**
 * A volume: `data[i + I*(j + J*k)]` is voxel (i, j, k), i along a row (DICOM column index), j down the
 * columns (row index), k the slice, as nibabel's array of the same volume. `affine` maps (i, j, k, 1) to RAS+ mm.
 */
export interface DicomVolume {
  source: string;
  seriesInstanceUID: string;
  modality?: string;
  /** [I, J, K]: columns, rows, slices */
  dims: [number, number, number];
  /** voxel size in mm along i, j, k (k: the distance between slice positions) */
  spacing: [number, number, number];
  /** 4x4, rows, voxel to RAS+ (mm) */
  affine: number[][];
  /** the world direction of each voxel axis, nibabel's aff2axcodes, e.g. 'LPS' */
  orientation: string;
  /** ImageOrientationPatient: row and column direction cosines (LPS) */
  directions: number[];
  data: Float32Array;
  slices: VolumeSlice[];
  /** the VOI windows of the first slice (display only) */
  windows: Window[];
  /** MONOCHROME1: higher values are darker */
  invert: boolean;
}

export interface SeriesOptions {
  /** relative tolerance on the spacing between slices before it counts as a gap (default 0.01) */
  spacingTolerance?: number;
  /** limit on voxels per volume, checked before the volume is allocated (default 2^28) */
  maxVoxels?: number;
}

interface Plane { source: string; frame?: number; instanceNumber?: number; position: number[]; iop: number[]; spacing: number[]; rows: number; columns: number; data: Float32Array; series: string; modality?: string; thickness?: number; windows: Window[]; invert: boolean }

const cross = (a: number[], b: number[]) => [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
const dot = (a: number[], b: number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;
const nums = (ds: DataSet, tag: string, n: number): number[] | undefined => {
  const v = Array.from({ length: n }, (_, i) => num(ds, tag, i));
  return v.every((x) => x !== undefined) ? (v as number[]) : undefined;
};
/** The first item's data set of a sequence. */
const item = (ds: DataSet | undefined, tag: string): DataSet | undefined => ds?.elements[tag]?.items?.[0]?.dataSet as DataSet | undefined;

/** The planes (slices) one instance contributes: one for a classic image, one per frame for enhanced multi-frame. */
async function planesOf(inst: SeriesInstance, maxVoxels: number): Promise<Plane[]> {
  const file = inst.source;
  const { ds } = parseDataSet(inst.bytes, file);
  const img = await decodeDicom(inst.bytes, { source: file, maxPixels: maxVoxels });
  if (img.samplesPerPixel !== 1) throw new SeriesError('colour', `${img.samplesPerPixel} samples per pixel: a volume is grey`, { file });
  const series = str(ds, 'x0020000e') ?? '(no Series Instance UID)';
  const modality = str(ds, 'x00080060');
  const per = img.rows * img.columns;
  const shared = item(ds, 'x52009229');
  const perFrame = ds.elements.x52009230?.items;
  if (perFrame && perFrame.length === img.frames) {
    // enhanced multi-frame: geometry and rescale per frame, else from the shared functional groups
    return perFrame.map((it, f) => {
      const fg = it.dataSet as DataSet;
      const pick = (seq: string) => item(fg, seq) ?? item(shared, seq);
      const position = nums(pick('x00209113') ?? ds, 'x00200032', 3);
      const iop = nums(pick('x00209116') ?? ds, 'x00200037', 6);
      const measures = pick('x00289110');
      const spacing = nums(measures ?? ds, 'x00280030', 2);
      if (!position || !iop || !spacing) throw new SeriesError('geometry', `frame ${f} has no Plane Position, Plane Orientation or Pixel Measures`, { file });
      const tr = pick('x00289145');
      const slope = tr ? num(tr, 'x00281053') ?? 1 : 1;
      const intercept = tr ? num(tr, 'x00281052') ?? 0 : 0;
      const raw = img.data.subarray(f * per, (f + 1) * per);
      // decodeDicom applied only a top-level rescale; enhanced images keep theirs in the functional groups
      const data = slope === 1 && intercept === 0 ? raw : Float32Array.from(raw, (v) => v * slope + intercept);
      const thickness = measures ? num(measures, 'x00180050') : undefined;
      return { source: file, frame: f, instanceNumber: num(ds, 'x00200013'), position, iop, spacing, rows: img.rows, columns: img.columns, data, series, modality, thickness, windows: img.windows, invert: img.invert };
    });
  }
  const position = nums(ds, 'x00200032', 3);
  const iop = nums(ds, 'x00200037', 6);
  const spacing = nums(ds, 'x00280030', 2) ?? nums(ds, 'x00181164', 2);
  if (!position || !iop || !spacing) throw new SeriesError('geometry', 'no ImagePositionPatient, ImageOrientationPatient or PixelSpacing: not a slice of a volume', { file });
  if (img.frames !== 1) throw new SeriesError('geometry', `${img.frames} frames without per-frame positions`, { file });
  return [{ source: file, instanceNumber: num(ds, 'x00200013'), position, iop, spacing, rows: img.rows, columns: img.columns, data: img.data, series, modality, thickness: num(ds, 'x00180050'), windows: img.windows, invert: img.invert }];
}

/** One series' planes to a volume, after every check. */
function toVolume(planes: Plane[], source: string, o: SeriesOptions): DicomVolume {
  const first = planes[0]!;
  const names = (p: Plane) => (p.frame === undefined ? p.source : `${p.source} frame ${p.frame}`);
  for (const p of planes) {
    if (p.rows !== first.rows || p.columns !== first.columns) throw new SeriesError('size', `${names(p)} is ${p.columns}x${p.rows}, ${names(first)} ${first.columns}x${first.rows}`, { file: source });
    if (p.iop.some((v, i) => Math.abs(v - first.iop[i]!) > 1e-4)) throw new SeriesError('orientation', `mixed orientations: ${names(p)} [${p.iop}] vs ${names(first)} [${first.iop}]`, { file: source });
    if (p.spacing.some((v, i) => Math.abs(v - first.spacing[i]!) > 1e-4)) throw new SeriesError('size', `${names(p)} has pixel spacing [${p.spacing}], ${names(first)} [${first.spacing}]`, { file: source });
  }
  const row = first.iop.slice(0, 3);
  const col = first.iop.slice(3, 6);
  const normal = cross(row, col);
  const sorted = planes.map((p) => ({ p, d: dot(p.position, normal) })).sort((a, b) => a.d - b.d);
  const [I, J, K] = [first.columns, first.rows, sorted.length];
  const gaps = sorted.slice(1).map((s, k) => s.d - sorted[k]!.d);
  const tol = o.spacingTolerance ?? 0.01;
  for (let k = 0; k < gaps.length; k++) {
    if (gaps[k]! < 1e-3) throw new SeriesError('duplicate', `${names(sorted[k]!.p)} and ${names(sorted[k + 1]!.p)} lie at the same position (${sorted[k]!.d.toFixed(3)} mm along the normal)`, { file: source });
  }
  const step = gaps.length ? [...gaps].sort((a, b) => a - b)[gaps.length >> 1]! : first.thickness ?? 1;
  for (let k = 0; k < gaps.length; k++) {
    if (Math.abs(gaps[k]! - step) > tol * step + 1e-3) {
      throw new SeriesError('gap', `slice spacing ${gaps[k]!.toFixed(3)} mm between ${names(sorted[k]!.p)} and ${names(sorted[k + 1]!.p)}, where the series steps ${step.toFixed(3)} mm: missing or uneven slices`, { file: source });
    }
  }
  // the positions must move along the normal: a sideways drift is a gantry tilt, which a plain affine cannot hold
  const stepVec = K > 1 ? [0, 1, 2].map((a) => (sorted[K - 1]!.p.position[a]! - sorted[0]!.p.position[a]!) / (K - 1)) : normal.map((v) => v * step);
  const drift = Math.hypot(...stepVec.map((v, a) => v - normal[a]! * dot(stepVec, normal)));
  if (drift > tol * step + 1e-3) throw new SeriesError('tilt', `slice positions drift ${drift.toFixed(3)} mm sideways per slice (gantry tilt); not a regular volume`, { file: source });
  // and every slice must sit where the grid puts it: one moved sideways would be drawn in the wrong place
  const o0 = sorted[0]!.p.position;
  sorted.forEach(({ p }, k) => {
    const off = Math.hypot(...[0, 1, 2].map((a) => p.position[a]! - o0[a]! - k * stepVec[a]!));
    if (off > tol * step + 1e-3) throw new SeriesError('geometry', `${names(p)} lies ${off.toFixed(3)} mm from where slice ${k} of the series belongs`, { file: source });
  });
  const total = I * J * K;
  const limit = o.maxVoxels ?? DEFAULT_MAX_DICOM_VALUES;
  if (total > limit) throw new SeriesError('size', `${I}x${J}x${K} = ${total} voxels, over the limit of ${limit}`, { file: source });
  const data = new Float32Array(total);
  sorted.forEach(({ p }, k) => data.set(p.data, k * I * J));
  // PixelSpacing is [between rows, between columns]; i steps along the row direction by the column spacing
  const [dr, dc] = first.spacing as [number, number];
  const lps = [0, 1, 2].map((a) => [row[a]! * dc, col[a]! * dr, stepVec[a]!, o0[a]!]);
  const affine = [...lps.map((r, a) => (a < 2 ? r.map((v) => -v) : r)), [0, 0, 0, 1]].map((r) => r.map((v) => (Object.is(v, -0) ? 0 : v)));
  return {
    source,
    seriesInstanceUID: first.series,
    ...(first.modality ? { modality: first.modality } : {}),
    dims: [I, J, K],
    spacing: [dc, dr, Math.hypot(...stepVec)],
    affine,
    orientation: axisCodes(affine).join(''),
    directions: first.iop,
    data,
    windows: sorted[0]!.p.windows,
    invert: sorted[0]!.p.invert,
    slices: sorted.map(({ p }) => ({ source: p.source, ...(p.frame !== undefined ? { frame: p.frame } : {}), ...(p.instanceNumber !== undefined ? { instanceNumber: p.instanceNumber } : {}), position: p.position })),
  };
}

export interface SeriesResult {
  volumes: DicomVolume[];
  /** instances and series that could not be read or made into a volume, with the typed error */
  skipped: { source: string; error: ClipmedError }[];
}

/**
 * Group DICOM instances by series and read each series as a volume. An instance that cannot be decoded, and
 * a series that is not a regular volume (gaps, duplicates, mixed orientations), are reported in `skipped`.
 * @example
 * const { volumes } = await seriesVolumes(files.map((f) => ({ source: f, bytes: readFileSync(f) })));
 * volumes[0].dims // [16, 16, 5]; volumes[0].orientation // 'LPS'
 */
export async function seriesVolumes(instances: SeriesInstance[], o: SeriesOptions = {}, source = 'series'): Promise<SeriesResult> {
  const bySeries = new Map<string, Plane[]>();
  const skipped: SeriesResult['skipped'] = [];
  for (const inst of instances) {
    try {
      for (const p of await planesOf(inst, o.maxVoxels ?? DEFAULT_MAX_DICOM_VALUES)) {
        if (!bySeries.has(p.series)) bySeries.set(p.series, []);
        bySeries.get(p.series)!.push(p);
      }
    } catch (e) {
      if (!(e instanceof ClipmedError)) throw e;
      skipped.push({ source: inst.source, error: e });
    }
  }
  const volumes: DicomVolume[] = [];
  for (const [uid, planes] of bySeries) {
    try {
      volumes.push(toVolume(planes, bySeries.size > 1 ? `${source} (series ${uid})` : source, o));
    } catch (e) {
      if (!(e instanceof ClipmedError)) throw e;
      skipped.push({ source: `${source} (series ${uid})`, error: e });
    }
  }
  return { volumes, skipped };
}

/**
 * The one volume of a folder or file list: an error when there is none, or several series and none chosen.
 */
export async function seriesVolume(instances: SeriesInstance[], o: SeriesOptions & { series?: string } = {}, source = 'series'): Promise<DicomVolume> {
  const { volumes, skipped } = await seriesVolumes(instances, o, source);
  const chosen = o.series ? volumes.filter((v) => v.seriesInstanceUID === o.series) : volumes;
  if (chosen.length === 1) return chosen[0]!;
  if (chosen.length > 1) throw new SeriesError('geometry', `${chosen.length} series: ${chosen.map((v) => `${v.seriesInstanceUID} (${v.dims.join('x')})`).join(', ')}; choose one with --series`, { file: source });
  const why = skipped.find((s) => s.error instanceof SeriesError && (!o.series || s.source.includes(o.series)));
  if (why) throw why.error;
  throw new DecodeError(o.series ? `no series ${o.series} among ${volumes.length} volume(s)` : `no DICOM series that makes a volume (${skipped.length} file(s) skipped${skipped[0] ? `: ${skipped[0].error.message}` : ''})`, { file: source });
}

/** Which slices of a volume: 'middle', 'all', or a count N spread evenly (the centres of N equal parts). */
export function chooseSlices(count: number, which: string): number[] {
  if (which === 'all') return Array.from({ length: count }, (_, k) => k);
  if (which === 'middle') return [Math.floor(count / 2)];
  const n = Number(which);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--slices must be middle, all or a positive integer, got '${which}'`);
  return [...new Set(Array.from({ length: Math.min(n, count) }, (_, i) => Math.floor(((i + 0.5) * count) / Math.min(n, count))))];
}

/** Slice k of a volume as a DecodedImage (rows x columns, its window and photometric), for display and models. */
export function volumeSlice(v: DicomVolume, k: number): DecodedImage {
  const [I, J, K] = v.dims;
  if (!Number.isInteger(k) || k < 0 || k >= K) throw new ConfigError(`slice ${k}: the volume has ${K}`, { file: v.source });
  const s = v.slices[k]!;
  return {
    source: `${v.source} slice ${k}`,
    rows: J,
    columns: I,
    frames: 1,
    samplesPerPixel: 1,
    data: v.data.subarray(k * I * J, (k + 1) * I * J),
    photometric: v.invert ? 'MONOCHROME1' : 'MONOCHROME2',
    windows: v.windows,
    invert: v.invert,
    meta: { modality: v.modality, seriesInstanceUID: v.seriesInstanceUID, slice: k, sliceSource: s.source, imagePositionPatient: s.position },
  };
}
