// DICOM whole-slide images (VL Whole Slide Microscopy Image, PS3.3 A.32.8): one instance per pyramid level,
// each a tiled total pixel matrix (C.8.12.4) whose frames are the tiles, in row-major order for TILED_FULL
// (C.7.6.17.3) or placed by their Plane Position (Slide) for TILED_SPARSE. Frames decode through clipmed's
// DICOM decoder (any transfer syntax it reads, colour to RGB). Bytes in: the Node side gathers the files.
import { DecodeError, UnsupportedError } from '../../errors.ts';
import { decodeDicom } from '../dicom/index.ts';
import { num, parseDataSet, str, type DataSet } from '../dicom/dataset.ts';
import type { Slide, SlideLevel } from './slide.ts';
import { cachedTiles, tiledRegionReaders } from './tiled-region.ts';

export const WSI_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.77.1.6';

interface Level extends SlideLevel { bytes: Uint8Array; source: string; frames: number; positions?: Map<string, number> }

const item = (ds: DataSet | undefined, tag: string): DataSet | undefined => ds?.elements[tag]?.items?.[0]?.dataSet as DataSet | undefined;

/** Whether these bytes are a VL Whole Slide Microscopy instance. */
export function isDicomWsi(bytes: Uint8Array, source: string): boolean {
  try {
    return str(parseDataSet(bytes, source).ds, 'x00080016') === WSI_SOP_CLASS;
  } catch {
    return false;
  }
}

/**
 * Open the VOLUME instances of one DICOM whole-slide image as a Slide (levels largest first).
 * @example (await openDicomSlide(files, 'slide')).levels.length // 3
 */
export async function openDicomSlide(instances: { source: string; bytes: Uint8Array }[], source: string): Promise<Slide> {
  const levels: Level[] = [];
  let mpp: number | undefined;
  let power: number | undefined;
  for (const inst of instances) {
    const { ds } = parseDataSet(inst.bytes, inst.source);
    if (str(ds, 'x00080016') !== WSI_SOP_CLASS) continue;
    // levels are the VOLUME images; LABEL, OVERVIEW and THUMBNAIL are pictures of the slide
    if ((str(ds, 'x00080008') ?? '').split('\\')[2]?.trim() !== 'VOLUME') continue;
    const width = ds.elements.x00480006 ? ds.uint32('x00480006') : undefined; // UL
    const height = ds.elements.x00480007 ? ds.uint32('x00480007') : undefined;
    const tw = ds.uint16('x00280011');
    const th = ds.uint16('x00280010');
    const frames = num(ds, 'x00280008') ?? 1;
    if (!width || !height || !tw || !th) throw new DecodeError('a VOLUME instance without Total Pixel Matrix Columns/Rows or tile size', { file: inst.source });
    const organisation = str(ds, 'x00209311') ?? 'TILED_SPARSE';
    let positions: Map<string, number> | undefined;
    if (organisation !== 'TILED_FULL') {
      // TILED_SPARSE: each frame's place in the total pixel matrix (1-based), from its Plane Position (Slide)
      positions = new Map();
      const perFrame = ds.elements.x52009230?.items ?? [];
      perFrame.forEach((it, f) => {
        const pos = item(it.dataSet as DataSet, 'x0048021a');
        const c = pos ? num(pos, 'x0048021e') : undefined;
        const r = pos ? num(pos, 'x0048021f') : undefined;
        if (c !== undefined && r !== undefined) positions!.set(`${Math.floor((c - 1) / tw)},${Math.floor((r - 1) / th)}`, f);
      });
      if (!positions.size) throw new UnsupportedError(`dimension organisation ${organisation} without frame positions`, { file: inst.source });
    }
    const spacing = num(item(item(ds, 'x52009229'), 'x00289110') ?? ds, 'x00280030');
    levels.push({ ifd: levels.length, width, height, tileWidth: tw, tileHeight: th, downsample: 1, bytes: inst.bytes, source: inst.source, frames, ...(positions ? { positions } : {}) });
    if (spacing && (mpp === undefined || spacing * 1000 < mpp)) mpp = spacing * 1000;
    power ??= num(item(ds, 'x00480105') ?? ds, 'x00480112');
  }
  if (!levels.length) throw new UnsupportedError('no VL Whole Slide Microscopy VOLUME instance', { file: source });
  levels.sort((a, b) => b.width - a.width);
  for (const l of levels) l.downsample = levels[0]!.width / l.width;
  const magnification = power ?? (mpp ? Math.round((10 / mpp) * 100) / 100 : undefined);
  const tile = (l: number, tx: number, ty: number): Promise<Uint8Array | undefined> => {
    const lv = levels[l]!;
    const frame = lv.positions ? lv.positions.get(`${tx},${ty}`) : ty * Math.ceil(lv.width / lv.tileWidth) + tx;
    if (frame === undefined || frame >= lv.frames) return Promise.resolve(undefined); // a sparse matrix's missing tile: background
    return decodeDicom(lv.bytes, { source: lv.source, frame }).then((img) => {
      if (img.samplesPerPixel !== 3 && img.samplesPerPixel !== 1) throw new UnsupportedError(`${img.samplesPerPixel} samples per pixel`, { file: lv.source });
      const out = new Uint8Array(lv.tileWidth * lv.tileHeight * 3);
      for (let p = 0; p < lv.tileWidth * lv.tileHeight; p++) {
        for (let c = 0; c < 3; c++) out[3 * p + c] = Math.min(255, Math.max(0, Math.round(img.data[p * img.samplesPerPixel + (img.samplesPerPixel === 3 ? c : 0)]!)));
      }
      return out;
    });
  };
  const { readRegion, readLevel } = tiledRegionReaders(levels, cachedTiles(tile), source);
  return {
    source,
    format: 'dicom-wsi',
    levels: levels.map(({ ifd, width, height, tileWidth, tileHeight, downsample }) => ({ ifd, width, height, tileWidth, tileHeight, downsample })),
    ...(mpp !== undefined ? { mpp } : {}),
    ...(magnification !== undefined ? { magnification } : {}),
    readRegion,
    readLevel,
  };
}
