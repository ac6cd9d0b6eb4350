// The platform boundary as the core sees it: what only a platform can do (load a model from a name or folder,
// fetch an image named by a path or URL, decode image bytes) behind one small interface. The Node adapter
// (src/node/platform.ts) registers itself when `clipmed` is imported on Node; a browser build registers its own.
import { ConfigError } from '../errors.ts';
import type { Raster } from '../image/types.ts';
import type { ClipModel, LoadOptions } from '../node/clip-model.ts';

export interface Platform {
  readonly name: string;
  loadModel(source: string, options: LoadOptions): Promise<ClipModel>;
  /** the bytes a path or URL names (file paths and file: URLs on Node; http(s) everywhere) */
  readBytes(input: string | URL): Promise<Uint8Array>;
  /** decode JPEG/PNG/TIFF/WebP bytes to an 8-bit raster; `name` is for messages */
  decodeImage(bytes: Uint8Array, name: string): Promise<Raster>;
}

let current: Platform | undefined;

export function setPlatform(p: Platform): void {
  current = p;
}

/** The registered platform, or a ConfigError saying how to get one. */
export function getPlatform(): Platform {
  if (!current) throw new ConfigError("no platform is registered: import 'clipmed' (Node) or call setPlatform() with the browser adapter first");
  return current;
}
