// VOI windowing: from stored (modality-LUT) values to what a reader sees.
// Formulas from DICOM PS3.3 C.11.2.1.2 (LINEAR, LINEAR_EXACT) and C.11.2.1.3.1 (SIGMOID).
import { ConfigError } from '../errors.ts';

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export interface Window {
  center: number;
  width: number;
  fn?: VoiFunction;
}

/** Common CT window presets in Hounsfield units (center/level, width). */
export const WINDOW_PRESETS = {
  lung: { center: -600, width: 1500 },
  mediastinum: { center: 50, width: 350 },
  bone: { center: 400, width: 1800 },
  brain: { center: 40, width: 80 },
  abdomen: { center: 50, width: 400 },
} as const satisfies Record<string, Window>;

export type WindowPreset = keyof typeof WINDOW_PRESETS;

/**
 * Parse a window given by the user: a preset name ("lung") or "center,width" ("40,400").
 * @example parseWindow('40,400') // { center: 40, width: 400 }
 */
export function parseWindow(text: string): Window {
  const preset = (WINDOW_PRESETS as Record<string, Window>)[text.toLowerCase()];
  if (preset) return { ...preset };
  const parts = text.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((v) => !Number.isFinite(v))) {
    throw new ConfigError(`window '${text}': expected a preset (${Object.keys(WINDOW_PRESETS).join(', ')}) or 'center,width'`);
  }
  return { center: parts[0]!, width: parts[1]! };
}

/**
 * Apply a VOI window to values, giving floats in [0, outMax] (not rounded).
 * @example applyWindow(Float32Array.of(-1000, 40, 1000), { center: 40, width: 400 }) // [0, 127.82..., 255]
 */
export function applyWindow(values: Float32Array, win: Window, outMax = 255): Float32Array {
  const { center: c, width: w } = win;
  const fn = win.fn ?? 'LINEAR';
  if (fn === 'LINEAR' && w < 1) throw new ConfigError(`window width ${w}: LINEAR needs a width of at least 1`);
  if (fn !== 'LINEAR' && w <= 0) throw new ConfigError(`window width ${w}: ${fn} needs a positive width`);
  const out = new Float32Array(values.length);
  if (fn === 'LINEAR') {
    const lo = c - 0.5 - (w - 1) / 2;
    const hi = c - 0.5 + (w - 1) / 2;
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      out[i] = x <= lo ? 0 : x > hi ? outMax : ((x - (c - 0.5)) / (w - 1) + 0.5) * outMax;
    }
  } else if (fn === 'LINEAR_EXACT') {
    const lo = c - w / 2;
    const hi = c + w / 2;
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      out[i] = x <= lo ? 0 : x > hi ? outMax : ((x - c) / w + 0.5) * outMax;
    }
  } else {
    for (let i = 0; i < values.length; i++) out[i] = outMax / (1 + Math.exp((-4 * (values[i]! - c)) / w));
  }
  return out;
}

/** Round and clamp floats in [0, 255] to bytes. */
export function toBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(values[i]!)));
  return out;
}

/** A VOI LUT (PS3.3 C.11.2.1.1): values from `first` on map to `data`, which has `bits`-bit entries. */
export interface VoiLut {
  first: number;
  bits: number;
  data: number[];
}

/**
 * The LUT's output for each value (clamped to the table's ends), as pydicom's apply_voi_lut gives it;
 * pass `outMax` to scale to a display range instead.
 * @example applyVoiLut(Float32Array.of(-5, 1, 9), { first: 0, bits: 8, data: [10, 20, 30] }) // [10, 20, 30]
 */
export function applyVoiLut(values: Float32Array, lut: VoiLut, outMax?: number): Float32Array {
  if (lut.data.length === 0) throw new ConfigError('VOI LUT with no entries');
  const scale = outMax === undefined ? 1 : outMax / (2 ** lut.bits - 1);
  const last = lut.data.length - 1;
  return Float32Array.from(values, (v) => lut.data[Math.min(last, Math.max(0, Math.round(v) - lut.first))]! * scale);
}
