// Resolving --model downloads and reads files: it lives on the Node side (src/node/resolve.ts).
export { resolveModelSource, type ModelSource, type ResolveOptions } from '../node/resolve.ts';
