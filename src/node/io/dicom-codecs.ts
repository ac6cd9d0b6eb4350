// The Node side of the DICOM codec loader: the cornerstone codecs' Emscripten builds, loaded with require from
// node_modules. Importing this module registers the loader with the core (src/io/dicom/pixels.ts, setCodecLoader);
// the package entry and the Node-side readers (dicom-files, series-files, slide-files, inputs) import it.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setCodecLoader, type CodecLoader, type WasmDecoder } from '../../io/dicom/pixels.ts';

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

setCodecLoader(nodeCodecLoader);
