// ClipModel loads, compiles and caches on disk: it lives on the Node side (src/node/clip-model.ts); this module
// keeps the import path that existing code uses. The core reaches models through src/pipeline/platform.ts.
export { ClipModel, normalizeRows, type EmbedOptions, type ImageEmbedOptions, type ImageEmbeddings, type LoadOptions, type TextEmbeddings } from '../node/clip-model.ts';
