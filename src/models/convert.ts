// Checkpoint -> cached graphs reads and writes files: it lives on the Node side (src/node/compile.ts).
export { buildGraphs, compileModel, modelSpecFor, type CompiledModel, type ModelMeta } from '../node/compile.ts';
