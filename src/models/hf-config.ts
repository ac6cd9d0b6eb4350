// A model folder in the Hugging Face transformers layout (as the hub repo is laid out): `config.json`,
// `preprocessor_config.json`, tokenizer files and `model.safetensors` or `pytorch_model.bin`.
// This reads the JSON files once; the families (hf-clip-family.ts, siglip-family.ts) interpret them.
import { ConfigError, UnsupportedError } from '../errors.ts';
import type { PreprocessConfig } from '../image/preprocess.ts';

export type Json = Record<string, unknown>;

export interface HfFolder {
  dir: string;
  files: string[];
  /** config.json */
  config: Json;
  /** preprocessor_config.json, when present */
  preprocessor?: Json;
  /** tokenizer_config.json, when present */
  tokenizerConfig?: Json;
  /** special_tokens_map.json, when present */
  specialTokens?: Json;
  /** the bytes of a file of the folder (tokenizer models), when the folder came as bytes */
  read?: (name: string) => Uint8Array | undefined;
}

/** A number field (with a default), or a ConfigError naming the file and the field. */
export function num(obj: Json, key: string, dflt: number | undefined, where: string, file: string): number {
  const v = obj[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${where}.${key}: expected a number, got ${JSON.stringify(obj[key])}`, { file });
  return v;
}

export function sub(obj: Json, key: string, file: string): Json {
  const v = obj[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`config.json has no ${key} object`, { file });
  return v as Json;
}

/** A token field of tokenizer_config.json / special_tokens_map.json: a string or an AddedToken object. */
export function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/** The special token `name` (pad_token, eos_token, ...) from tokenizer_config.json, else special_tokens_map.json. */
export function specialToken(f: HfFolder, name: string): string | undefined {
  return tokenString(f.tokenizerConfig?.[name]) ?? tokenString(f.specialTokens?.[name]);
}

const PIL_RESAMPLE: Record<number, PreprocessConfig['interpolation']> = { 2: 'bilinear', 3: 'bicubic' };

function triple(v: unknown, name: string, file: string): [number, number, number] {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v as [number, number, number];
  throw new ConfigError(`preprocessor_config.json ${name}: expected three numbers, got ${JSON.stringify(v)}`, { file });
}

/** `{"height": h, "width": w}`, `{"shortest_edge": s}` or a bare number, as transformers' get_size_dict reads them. */
function sizeOf(v: unknown, name: string, file: string): { shortest?: number; height?: number; width?: number } {
  if (typeof v === 'number') return { shortest: v, height: v, width: v };
  if (v && typeof v === 'object') {
    const o = v as Json;
    if (typeof o.shortest_edge === 'number' && o.longest_edge === undefined) return { shortest: o.shortest_edge };
    if (typeof o.height === 'number' && typeof o.width === 'number') return { height: o.height, width: o.width };
  }
  throw new UnsupportedError(`preprocessor_config.json ${name} ${JSON.stringify(v)}: expected a number, {shortest_edge} or {height, width}`, { file });
}

/**
 * transformers' image processor settings mapped onto clipmed's PreprocessConfig.
 * - CLIPImageProcessor: resize the shortest edge (PIL resampling `resample`), center crop `crop_size`
 *   (origin at margin // 2, not torchvision's rounding).
 *   clipmed's 'shortest' mode resizes the shortest edge to the crop size, so the two sizes must agree
 *   (they do for openai/clip-vit-*, PubMedCLIP and PLIP: 224 and 224).
 * - SiglipImageProcessor: resize to exactly {height, width}, no crop: clipmed's 'squash' mode.
 * Both rescale by 1/255 and normalise with image_mean / image_std.
 */
export function hfPreprocess(
  pp: Json | undefined,
  imageSize: number,
  file: string,
  /** the processor's defaults; `centerCrop`: whether it crops (CLIPImageProcessor: do_center_crop defaults to true; SiglipImageProcessor never crops) */
  defaults: { mean: [number, number, number]; std: [number, number, number]; centerCrop: boolean },
): PreprocessConfig {
  if (!pp) throw new ConfigError('no preprocessor_config.json in the folder: the image preprocessing is unknown', { file });
  const f = `${file}/preprocessor_config.json`;
  const flag = (k: string, d: boolean) => (pp[k] === undefined ? d : Boolean(pp[k]));
  if (!flag('do_resize', true)) throw new UnsupportedError('do_resize false: images must already be at the model size', { file: f });
  if (!flag('do_rescale', true) || Math.abs(((pp.rescale_factor as number) ?? 1 / 255) - 1 / 255) > 1e-12) {
    throw new UnsupportedError(`do_rescale ${pp.do_rescale} / rescale_factor ${pp.rescale_factor}: only 8-bit pixels rescaled by 1/255 are supported`, { file: f });
  }
  if (!flag('do_normalize', true)) throw new UnsupportedError('do_normalize false is not supported', { file: f });
  const resample = (pp.resample as number | undefined) ?? 3;
  const interpolation = PIL_RESAMPLE[resample];
  if (!interpolation) throw new UnsupportedError(`resample ${resample}: supported are 2 (bilinear) and 3 (bicubic)`, { file: f });
  const mean = pp.image_mean === undefined ? defaults.mean : triple(pp.image_mean, 'image_mean', f);
  const std = pp.image_std === undefined ? defaults.std : triple(pp.image_std, 'image_std', f);
  const size = sizeOf(pp.size, 'size', f);
  const crop = defaults.centerCrop && flag('do_center_crop', true) ? sizeOf(pp.crop_size ?? 224, 'crop_size', f) : undefined;
  let resizeMode: PreprocessConfig['resizeMode'];
  if (crop) {
    if (size.shortest === undefined) throw new UnsupportedError(`size ${JSON.stringify(pp.size)} with a center crop: expected {shortest_edge}`, { file: f });
    if (crop.height !== crop.width || crop.height !== size.shortest) {
      throw new UnsupportedError(`resize to ${size.shortest} then crop ${crop.height}x${crop.width}: only a square crop of the resized shortest edge is supported`, { file: f });
    }
    resizeMode = 'shortest';
  } else {
    if (size.height === undefined || size.height !== size.width) throw new UnsupportedError(`size ${JSON.stringify(pp.size)} without a crop: expected a square {height, width}`, { file: f });
    resizeMode = 'squash';
  }
  const out = crop ? crop.height! : size.height!;
  if (out !== imageSize) throw new ConfigError(`preprocessor_config.json gives ${out} px images, config.json vision_config.image_size is ${imageSize}`, { file: f });
  // transformers' center_crop puts the origin at margin // 2 (torchvision rounds half to even)
  return { size: imageSize, mean, std, interpolation, resizeMode, fillColor: 0, ...(crop ? { cropRounding: 'floor' as const } : {}) };
}
