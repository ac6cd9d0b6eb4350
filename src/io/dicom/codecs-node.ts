// The Node side of the codec loader: the cornerstone codecs' Emscripten builds, loaded with require.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CodecLoader, WasmDecoder } from './pixels.ts';

const require = createRequire(import.meta.url);

/** Load a codec build from node_modules. */
export const nodeCodecLoader: CodecLoader = async (_codec, build) => {
  // the packages' "exports" hide dist/: resolve the package root, then the decoder build inside it
  const [scope, name, , file] = build.file.split('/');
  const dist = dirname(require.resolve(`${scope}/${name}`)); // the package's main lives in dist/
  const factory = require(join(dist, file!)) as (o: object) => Promise<Record<string, new () => WasmDecoder>>;
  // the codecs' own logging (OpenJPEG's `[INFO] ...` lines) must not reach stdout, where the results go
  return factory({ print: () => {}, printErr: () => {} });
};
