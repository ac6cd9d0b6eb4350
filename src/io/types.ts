// What io/ decoders return.
import type { VoiLut, Window } from '../image/window.ts';

/** A decoded medical image or volume with the metadata a user needs. */
export interface DecodedImage {
  /** file path or URL it came from */
  source: string;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: 1 | 3;
  /** values after the modality LUT (rescale), [frames, rows, columns, samples] row-major */
  data: Float32Array;
  /** e.g. MONOCHROME1, MONOCHROME2, RGB; after decoding colour is always RGB */
  photometric: string;
  /** windows the file suggests, first is the default */
  windows: Window[];
  /** the file's VOI LUT (VOI LUT Sequence), used for display when no window is asked for */
  voiLut?: VoiLut;
  /** MONOCHROME1: higher values are darker; inversion happens at display/windowing time */
  invert: boolean;
  /** format-specific metadata (modality, transfer syntax, bits, UIDs, ...), no patient identifiers */
  meta: Record<string, unknown>;
}
