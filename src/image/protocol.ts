// Published preprocessing protocols that are not open_clip's transform, run as a list of steps (data),
// e.g. CheXzero's (rajpurkarlab/CheXzero data_process.py `preprocess`, zero_shot.py transforms):
// PIL LANCZOS resize of the longest side to 320, paste onto a black 320x320 'L' canvas (which converts to
// grey), three channels, Normalize(101.48761, 83.43944) on the 0-255 scale, then torchvision's Resize to 224
// on the float tensor (bicubic, a = -0.75, no antialiasing, as F.interpolate).
import { ConfigError } from '../errors.ts';
import { resizeCvArea } from './cv-area.ts';
import { resize } from './resample.ts';
import type { Raster } from './types.ts';

export type ProtocolStep =
  | { op: 'grayscale'; method: string }
  // 'longest-side-exact': the longest side becomes `size` itself, the other int(side * size / longest) (GLoRIA);
  // interpolation 'cv2-area': OpenCV's INTER_AREA (./cv-area.ts)
  | { op: 'resize'; target: 'longest-side' | 'longest-side-exact' | 'shortest-side' | 'square'; size: number; interpolation: 'bicubic' | 'bilinear' | 'lanczos' | 'cv2-area'; antialias: boolean; note?: string }
  | { op: 'pad'; size: number; value: number; placement: string }
  | { op: 'repeat-channels'; channels: 3 }
  | { op: 'normalize'; mean: number; std: number; scale: '0-255' | '0-1' }
  // hi-ml's remap_to_uint8: (v - min) / (max - min) * 255 over all channels, truncated (BioViL)
  | { op: 'minmax-uint8' }
  // torchvision CenterCrop: top = int(round((h - size) / 2)), left likewise (Python rounds halves to even)
  | { op: 'center-crop'; size: number }
  // MedCLIP's pad_img: centre on a square 'L' canvas of side max(minSize, w, h), offset int((side - w) / 2)
  | { op: 'pad-square'; minSize: number; value: number };

/** A float image, channels first: [channels, height, width]. */
interface Planes {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
}

/** PIL's 'RGB' -> 'L': ITU-R 601-2 luma in 16-bit fixed point, rounded (L = R 299/1000 + G 587/1000 + B 114/1000). */
function toGrey(r: Raster): Raster {
  if (r.channels === 1) return r;
  const out = new Uint8Array(r.width * r.height);
  for (let i = 0; i < out.length; i++) {
    out[i] = (r.data[3 * i]! * 19595 + r.data[3 * i + 1]! * 38470 + r.data[3 * i + 2]! * 7471 + 0x8000) >>> 16;
  }
  return { width: r.width, height: r.height, channels: 1, data: out };
}

function targetSize(w: number, h: number, s: Extract<ProtocolStep, { op: 'resize' }>): [number, number] {
  if (s.target === 'square') return [s.size, s.size];
  if (s.target === 'shortest-side') {
    // torchvision Resize(int): the short side becomes size, the long side int(size * long / short)
    const long = Math.trunc((s.size * Math.max(w, h)) / Math.min(w, h));
    return w <= h ? [s.size, long] : [long, s.size];
  }
  if (s.target === 'longest-side-exact') {
    const ratio = s.size / Math.max(w, h);
    return h >= w ? [Math.trunc(w * ratio), s.size] : [s.size, Math.trunc(h * ratio)]; // GLoRIA: the height wins a tie
  }
  // CheXzero: ratio = size / max(w, h); new side = int(side * ratio) (truncation)
  const ratio = s.size / (s.target === 'longest-side' ? Math.max(w, h) : Math.min(w, h));
  return [Math.trunc(w * ratio), Math.trunc(h * ratio)];
}

/** Centre the image on a size x size canvas filled with `value`, offset ((size - w) // 2, (size - h) // 2). */
function pad(r: Raster, size: number, value: number): Raster {
  if (r.width > size || r.height > size) throw new ConfigError(`pad to ${size}: the image is ${r.width}x${r.height}, larger than the canvas`);
  const out = new Uint8Array(size * size * r.channels).fill(value);
  const x0 = Math.floor((size - r.width) / 2);
  const y0 = Math.floor((size - r.height) / 2);
  for (let y = 0; y < r.height; y++) out.set(r.data.subarray(y * r.width * r.channels, (y + 1) * r.width * r.channels), ((y0 + y) * size + x0) * r.channels);
  return { width: size, height: size, channels: r.channels, data: out };
}

/** Python's round(): halves to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision CenterCrop on a PIL image at least `size` on each side. */
function centerCrop(r: Raster, size: number): Raster {
  if (r.width < size || r.height < size) throw new ConfigError(`center-crop to ${size}: the image is ${r.width}x${r.height}, smaller than the crop`);
  const top = roundHalfEven((r.height - size) / 2);
  const left = roundHalfEven((r.width - size) / 2);
  const out = new Uint8Array(size * size * r.channels);
  for (let y = 0; y < size; y++) out.set(r.data.subarray(((top + y) * r.width + left) * r.channels, ((top + y) * r.width + left + size) * r.channels), y * size * r.channels);
  return { width: size, height: size, channels: r.channels, data: out };
}

/** hi-ml `remap_to_uint8` (no percentiles): the full range stretched to 0..255 in float64, truncated. */
function minMaxUint8(r: Raster): Raster {
  let lo = 255;
  let hi = 0;
  for (const v of r.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const out = new Uint8Array(r.data.length);
  // numpy: a -= min; a /= max (of the shifted array, 0 for a constant image: NaN, cast to 0); a *= 255
  if (hi > lo) for (let i = 0; i < out.length; i++) out[i] = Math.trunc(((r.data[i]! - lo) / (hi - lo)) * 255);
  return { ...r, data: out };
}

/** Taps and weights of PyTorch's bicubic interpolation (a = -0.75, align_corners=False, edge clamped). */
function torchCubicTaps(inSize: number, outSize: number): { idx: Int32Array; w: Float64Array } {
  const A = -0.75;
  const cubic1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| <= 1
  const cubic2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2
  const scale = inSize / outSize;
  const idx = new Int32Array(outSize * 4);
  const w = new Float64Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    const src = (o + 0.5) * scale - 0.5;
    const i0 = Math.floor(src);
    const t = src - i0;
    const ws = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
    for (let k = 0; k < 4; k++) {
      idx[o * 4 + k] = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      w[o * 4 + k] = ws[k]!;
    }
  }
  return { idx, w };
}

/** torchvision Resize on a float tensor: separable bicubic without antialiasing. */
function resizeFloat(p: Planes, width: number, height: number): Planes {
  const tx = torchCubicTaps(p.width, width);
  const ty = torchCubicTaps(p.height, height);
  const out = new Float32Array(p.channels * width * height);
  const rowBuf = new Float64Array(p.height * width); // one channel after the horizontal pass: [inH, outW]
  for (let c = 0; c < p.channels; c++) {
    const plane = p.data.subarray(c * p.width * p.height, (c + 1) * p.width * p.height);
    for (let y = 0; y < p.height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += tx.w[x * 4 + k]! * plane[y * p.width + tx.idx[x * 4 + k]!]!;
        rowBuf[y * width + x] = s;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += ty.w[y * 4 + k]! * rowBuf[ty.idx[y * 4 + k]! * width + x]!;
        out[c * width * height + y * width + x] = s;
      }
    }
  }
  return { channels: p.channels, width, height, data: out };
}

function toPlanes(r: Raster): Planes {
  const n = r.width * r.height;
  const data = new Float32Array(r.channels * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < r.channels; c++) data[c * n + i] = r.data[i * r.channels + c]!;
  return { channels: r.channels, width: r.width, height: r.height, data };
}

/**
 * Run a protocol on one 8-bit raster; the result is [3, H, W] float32, ready for the image tower.
 * Steps before `normalize` work on 8-bit pixels (as PIL does), steps after it on floats (as torch does).
 * @example runProtocol(raster, CHEXZERO_STEPS).length // 3 * 224 * 224
 */
export function runProtocol(input: Raster, steps: readonly ProtocolStep[]): Float32Array {
  let r: Raster = input;
  let p: Planes | undefined;
  for (const s of steps) {
    if (s.op === 'normalize') {
      if (p) throw new ConfigError('protocol: normalize given twice');
      p = toPlanes(r);
      const div = s.scale === '0-1' ? 255 : 1;
      for (let i = 0; i < p.data.length; i++) p.data[i] = (p.data[i]! / div - s.mean) / s.std;
    } else if (s.op === 'resize') {
      const [w, h] = p ? targetSize(p.width, p.height, s) : targetSize(r.width, r.height, s);
      if (p) {
        if (s.interpolation !== 'bicubic' || s.antialias) throw new ConfigError(`protocol: a float resize must be bicubic without antialiasing (got ${s.interpolation}, antialias ${s.antialias})`);
        p = resizeFloat(p, w, h);
      } else {
        if (s.interpolation === 'cv2-area') r = resizeCvArea(r, w, h);
        else if (!s.antialias) throw new ConfigError('protocol: an 8-bit resize is PIL\'s, which always antialiases');
        else r = resize(r, w, h, s.interpolation);
      }
    } else if (p) {
      throw new ConfigError(`protocol: step '${s.op}' after normalize is not supported`);
    } else if (s.op === 'grayscale') r = toGrey(r);
    else if (s.op === 'pad') r = pad(r, s.size, s.value);
    else if (s.op === 'pad-square') r = pad(r, Math.max(s.minSize, r.width, r.height), s.value);
    else if (s.op === 'center-crop') r = centerCrop(r, s.size);
    else if (s.op === 'minmax-uint8') r = minMaxUint8(r);
    else if (s.op === 'repeat-channels') {
      const g = toGrey(r);
      const data = new Uint8Array(g.width * g.height * 3);
      for (let i = 0; i < g.data.length; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = g.data[i]!;
      r = { width: g.width, height: g.height, channels: 3, data };
    }
  }
  const out = p ?? toPlanes(r);
  if (out.channels !== 3) throw new ConfigError(`protocol: ends with ${out.channels} channel(s); the image tower needs 3`);
  return out.data;
}

/** Several rasters through a protocol, stacked [N, 3, H, W]; every result must have the same size. */
export function runProtocolBatch(inputs: Raster[], steps: readonly ProtocolStep[]): Float32Array {
  const parts = inputs.map((r) => runProtocol(r, steps));
  const per = parts[0]?.length ?? 0;
  if (parts.some((x) => x.length !== per)) throw new ConfigError('protocol: images came out in different sizes; the protocol needs a final square resize');
  const out = new Float32Array(per * parts.length);
  parts.forEach((x, i) => out.set(x, i * per));
  return out;
}

/** Published protocols by name. */
export const PROTOCOLS = {
  // CheXzero: data_process.py `preprocess` (the RGB image is resized, then pasted onto an 'L' canvas, which
  // converts it to grey) and zero_shot.py's Normalize + Resize(224, BICUBIC) on the tensor.
  chexzero: [
    { op: 'resize', target: 'longest-side', size: 320, interpolation: 'lanczos', antialias: true, note: 'PIL Image.ANTIALIAS; new side = int(side * 320 / longest)' },
    { op: 'grayscale', method: "PIL 'L' (ITU-R 601-2 luma), as pasting the RGB image onto an 'L' canvas converts it" },
    { op: 'pad', size: 320, value: 0, placement: 'centred: offset ((320 - w) // 2, (320 - h) // 2)' },
    { op: 'repeat-channels', channels: 3 },
    { op: 'normalize', mean: 101.48761, std: 83.43944, scale: '0-255' },
    { op: 'resize', target: 'square', size: 224, interpolation: 'bicubic', antialias: false, note: 'torchvision Resize on the normalised float tensor' },
  ],
  // BioViL (hi-ml-multimodal image/data/io.py load_image, transforms.py create_chest_xray_transform_for_inference,
  // image/utils.py: Resize(512), CenterCrop(480)): remap to 0..255, 'L', torchvision Resize on the PIL image
  // (bilinear), CenterCrop, ToTensor (0..1, no normalisation), the grey channel copied three times.
  biovil: [
    { op: 'minmax-uint8' },
    { op: 'grayscale', method: "PIL 'L' after remap_to_uint8" },
    { op: 'resize', target: 'shortest-side', size: 512, interpolation: 'bilinear', antialias: true, note: 'torchvision Resize(512) on a PIL image' },
    { op: 'center-crop', size: 480 },
    { op: 'repeat-channels', channels: 3 },
    { op: 'normalize', mean: 0, std: 1, scale: '0-1' },
  ],
  // BioViL-T: the same with CenterCrop(448) (hi-ml image/utils.py, ImageModelType.BIOVIL_T)
  'biovil-t': [
    { op: 'minmax-uint8' },
    { op: 'grayscale', method: "PIL 'L' after remap_to_uint8" },
    { op: 'resize', target: 'shortest-side', size: 512, interpolation: 'bilinear', antialias: true, note: 'torchvision Resize(512) on a PIL image' },
    { op: 'center-crop', size: 448 },
    { op: 'repeat-channels', channels: 3 },
    { op: 'normalize', mean: 0, std: 1, scale: '0-1' },
  ],
  // MedCLIP (RyanWangZf/MedCLIP medclip/dataset.py MedCLIPFeatureExtractor, constants.py): paste onto a square
  // 'L' canvas, PIL bicubic to 224, one-channel normalisation (mean .5862785803043838, std .27950088968644304),
  // the channel repeated three times by the vision model (pixel_values.repeat((1, 3, 1, 1))).
  medclip: [
    { op: 'grayscale', method: "PIL 'L', as pasting onto the 'L' canvas converts" },
    { op: 'pad-square', minSize: 224, value: 0 },
    { op: 'resize', target: 'square', size: 224, interpolation: 'bicubic', antialias: true, note: 'transformers feature-extractor resize (PIL BICUBIC)' },
    { op: 'repeat-channels', channels: 3 },
    { op: 'normalize', mean: 0.5862785803043838, std: 0.27950088968644304, scale: '0-1' },
  ],
  // GLoRIA (marshuang80/gloria gloria_model.py process_img and _resize_img, builder.py build_transformation for
  // the test split): cv2.imread(path, 0), the longest side to 256 with cv2 INTER_AREA (the other int(side * 256 /
  // longest)), zero padding to 256 x 256 (the smaller half first), PIL 'RGB', CenterCrop(224), ToTensor,
  // Normalize(0.5, 0.5) (transforms.norm 'half').
  gloria: [
    { op: 'grayscale', method: "cv2.imread(path, 0); here PIL's 'L' of the decoded image (the same for grey images)" },
    { op: 'resize', target: 'longest-side-exact', size: 256, interpolation: 'cv2-area', antialias: true, note: 'cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)' },
    { op: 'pad', size: 256, value: 0, placement: 'np.pad: floor(pad / 2) before, ceil(pad / 2) after' },
    { op: 'repeat-channels', channels: 3 },
    { op: 'center-crop', size: 224 },
    { op: 'normalize', mean: 0.5, std: 0.5, scale: '0-1' },
  ],
} as const satisfies Record<string, readonly ProtocolStep[]>;

export type ProtocolName = keyof typeof PROTOCOLS;

export function getProtocol(name: string): readonly ProtocolStep[] {
  const p = (PROTOCOLS as Record<string, readonly ProtocolStep[]>)[name];
  if (!p) throw new ConfigError(`preprocessing protocol '${name}': expected one of ${Object.keys(PROTOCOLS).join(', ')}`);
  return p;
}
