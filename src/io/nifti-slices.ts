// 2D display slices of a NIfTI volume, oriented the way radiologists read them.
//
// What we do, exactly:
// 1. From the affine's 3x3 part, each voxel axis gets the world axis (R, A or S) it points along most and
//    the sign of that direction (greedy on the largest remaining |cosine|, like nibabel's io_orientation).
//    Oblique volumes are not resampled: each voxel axis is read as its nearest world axis.
// 2. 'axial' slices the voxel axis closest to S, 'coronal' the one closest to A, 'sagittal' the one closest
//    to R; a number 0|1|2 slices that voxel axis and lays it out by the world axis it is closest to.
//    `index` counts along the voxel axis as stored in the file.
// 3. In the displayed image every row and column runs towards decreasing world coordinate:
//      axial:    rows anterior -> posterior, columns patient right -> left (patient right on image left)
//      coronal:  rows superior -> inferior,  columns patient right -> left
//      sagittal: rows superior -> inferior,  columns anterior -> posterior (face on the left)
//    For a volume in RAS+ order C[x, y, z] that is numpy's C[::-1, ::-1, z].T for axial, C[::-1, y, ::-1].T
//    for coronal and C[x, ::-1, ::-1].T for sagittal. Pixels are not resampled to square: meta.pixelSpacing
//    gives [row, column] spacing in mm.
import { ConfigError, UnsupportedError } from '../errors.ts';
import { parseWindow, type Window } from '../image/window.ts';
import type { NiftiVolume } from './nifti.ts';
import type { DecodedImage } from './types.ts';

export type SliceAxis = 'axial' | 'coronal' | 'sagittal' | 0 | 1 | 2;

export interface NiftiSliceOptions {
  /** default 'axial' */
  axis?: SliceAxis;
  /** voxel index along the sliced axis, or 'middle' (floor(n / 2)); default 'middle' unless count is given */
  index?: number | 'middle';
  /** this many slices spread evenly: index floor((s + 0.5) * n / count) for s = 0..count-1 */
  count?: number;
  /** volume index along the 4th dimension, default 0 */
  t?: number;
  /** display window (or preset name / "center,width"); default cal_min..cal_max, else the volume's range at t */
  window?: Window | string;
}

const PLANE_OF_WORLD = ['sagittal', 'coronal', 'axial'] as const;
/** world axes of [rows, columns] for the plane whose normal is world axis 0 (R), 1 (A), 2 (S) */
const LAYOUT: Array<[number, number]> = [
  [2, 1],
  [2, 0],
  [1, 0],
];
const AXIS_LETTERS = [
  ['L', 'R'],
  ['P', 'A'],
  ['I', 'S'],
];

/**
 * For each voxel axis: the world axis (0 = R, 1 = A, 2 = S) it points along and the sign (+1 towards R/A/S).
 * @example voxelOrientation([[-2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]) // [{world: 0, sign: -1}, {world: 1, sign: 1}, {world: 2, sign: 1}]
 */
export function voxelOrientation(affine: number[][], file?: string): Array<{ world: number; sign: 1 | -1 }> {
  const cols = [0, 1, 2].map((c) => [0, 1, 2].map((r) => affine[r]![c]!));
  const norms = cols.map((v) => Math.hypot(...v));
  if (norms.some((n) => !(n > 0) || !Number.isFinite(n))) {
    throw new UnsupportedError(`affine ${JSON.stringify(affine)} has a zero or non-finite voxel axis; cannot orient slices`, { file });
  }
  const out: Array<{ world: number; sign: 1 | -1 }> = [];
  const freeVox = new Set([0, 1, 2]);
  const freeWorld = new Set([0, 1, 2]);
  while (freeVox.size > 0) {
    let best = { vox: -1, world: -1, cos: -1 };
    for (const vx of freeVox) {
      for (const w of freeWorld) {
        const cos = Math.abs(cols[vx]![w]!) / norms[vx]!;
        if (cos > best.cos) best = { vox: vx, world: w, cos };
      }
    }
    out[best.vox] = { world: best.world, sign: cols[best.vox]![best.world]! >= 0 ? 1 : -1 };
    freeVox.delete(best.vox);
    freeWorld.delete(best.world);
  }
  return out;
}

/**
 * Orientation codes like nibabel's aff2axcodes: where each voxel axis points.
 * @example axisCodes([[-2, 0, 0, 32], [0, 2, 0, -40], [0, 0, 2, -16], [0, 0, 0, 1]]) // ['L', 'A', 'S']
 */
export function axisCodes(affine: number[][]): string[] {
  return voxelOrientation(affine).map(({ world, sign }) => AXIS_LETTERS[world]![sign > 0 ? 1 : 0]!);
}

/**
 * Cut 2D display images out of a 3D volume or one time point of a 4D series.
 * @example
 * const [img] = niftiSlices(readNifti(bytes, { source: 'anatomical.nii' }), { axis: 'axial' });
 * [img.rows, img.columns, img.meta.index] // [41, 33, 12]
 */
export function niftiSlices(vol: NiftiVolume, options: NiftiSliceOptions = {}): DecodedImage[] {
  const file = vol.source;
  const [I, J, K, T] = [...vol.dims, 1, 1, 1].slice(0, 4) as [number, number, number, number];
  if (vol.dims.slice(4).some((d) => d !== 1)) {
    throw new UnsupportedError(`NIfTI shape ${vol.dims.join(' x ')} has more than 4 dimensions (e.g. CIFTI); only 3D volumes and 4D series can be sliced`, { file });
  }
  const t = options.t ?? 0;
  if (!Number.isInteger(t) || t < 0 || t >= T) throw new ConfigError(`t ${t}: expected an integer in 0..${T - 1}`, { file });
  const orient = voxelOrientation(vol.affine, file);
  const axisOpt = options.axis ?? 'axial';
  const voxAxis = typeof axisOpt === 'number' ? axisOpt : orient.findIndex((o) => o.world === PLANE_OF_WORLD.indexOf(axisOpt));
  if (![0, 1, 2].includes(voxAxis)) throw new ConfigError(`axis ${JSON.stringify(axisOpt)}: expected axial, coronal, sagittal, 0, 1 or 2`, { file });
  const normal = orient[voxAxis]!.world;
  const shape = [I, J, K];
  const n = shape[voxAxis]!;
  const indices = sliceIndices(n, options, file);

  // Which voxel axis runs along the displayed rows and columns, and whether it is read backwards.
  const [rowWorld, colWorld] = LAYOUT[normal]!;
  const rowAxis = orient.findIndex((o) => o.world === rowWorld);
  const colAxis = orient.findIndex((o) => o.world === colWorld);
  const rows = shape[rowAxis]!;
  const columns = shape[colAxis]!;
  const strides = [1, I, I * J];
  const base = t * I * J * K;
  // Display runs towards decreasing world coordinate, so an axis pointing towards +world is read backwards.
  const rowStart = orient[rowAxis]!.sign > 0 ? rows - 1 : 0;
  const rowStep = (orient[rowAxis]!.sign > 0 ? -1 : 1) * strides[rowAxis]!;
  const colStart = orient[colAxis]!.sign > 0 ? columns - 1 : 0;
  const colStep = (orient[colAxis]!.sign > 0 ? -1 : 1) * strides[colAxis]!;

  const window = resolveWindow(vol, options.window, base, I * J * K);
  const plane = PLANE_OF_WORLD[normal]!;
  const spacing = (axis: number): number => Math.hypot(vol.affine[0]![axis]!, vol.affine[1]![axis]!, vol.affine[2]![axis]!);
  return indices.map((index) => {
    const data = new Float32Array(rows * columns); // [rows, columns]
    let p = base + index * strides[voxAxis]! + rowStart * strides[rowAxis]! + colStart * strides[colAxis]!;
    for (let r = 0; r < rows; r++, p += rowStep) {
      let q = p;
      for (let c = 0; c < columns; c++, q += colStep) data[r * columns + c] = vol.data[q]!;
    }
    return {
      source: `${file}#${plane}=${index}${T > 1 ? `,t=${t}` : ''}`,
      rows,
      columns,
      frames: 1,
      samplesPerPixel: 1,
      data,
      photometric: 'MONOCHROME2',
      windows: [window],
      invert: false,
      meta: {
        format: `nifti${vol.version}`,
        datatype: vol.datatype,
        plane,
        voxelAxis: voxAxis,
        index,
        t,
        axisCodes: axisCodes(vol.affine),
        pixelSpacing: [spacing(rowAxis), spacing(colAxis)],
        file,
      },
    };
  });
}

function sliceIndices(n: number, options: NiftiSliceOptions, file: string): number[] {
  if (options.count !== undefined) {
    if (options.index !== undefined) throw new ConfigError('give either index or count, not both', { file });
    const count = options.count;
    if (!Number.isInteger(count) || count < 1 || count > n) throw new ConfigError(`count ${count}: expected an integer in 1..${n}`, { file });
    return Array.from({ length: count }, (_, s) => Math.floor(((s + 0.5) * n) / count));
  }
  const index = options.index ?? 'middle';
  if (index === 'middle') return [Math.floor(n / 2)];
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new ConfigError(`slice index ${index}: expected an integer in 0..${n - 1}`, { file });
  return [index];
}

function resolveWindow(vol: NiftiVolume, win: Window | string | undefined, start: number, length: number): Window {
  if (typeof win === 'string') return parseWindow(win);
  if (win) return win;
  let lo = vol.calMin;
  let hi = vol.calMax;
  if (!(hi > lo)) {
    lo = Infinity;
    hi = -Infinity;
    for (let i = start; i < start + length; i++) {
      const x = vol.data[i]!;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    if (!(hi >= lo)) [lo, hi] = [0, 0]; // all NaN
  }
  // LINEAR_EXACT maps lo to 0 and hi to full scale exactly.
  return { center: (lo + hi) / 2, width: hi > lo ? hi - lo : 1, fn: 'LINEAR_EXACT' };
}
