// The pixel types that flow between io/ and image/.

/** An 8-bit raster as a reader sees it, rows top to bottom, channels interleaved (grey, or RGB). */
export interface Raster {
  width: number;
  height: number;
  channels: 1 | 3;
  /** [height, width, channels], row-major */
  data: Uint8Array;
}

/** A float image, e.g. after a modality LUT, before windowing. */
export interface FloatImage {
  width: number;
  height: number;
  channels: 1 | 3;
  /** [height, width, channels], row-major */
  data: Float32Array;
}
