// clipmed's public API. The CLI, server and web app import only this file.

// ---- errors
export * from './errors.ts';

// ---- graph
export { GraphBuilder, OPSET, GRAPH_VERSION, type Value } from './graph/builder.ts';

// ---- models
export { parseClipConfig, inferOpenAIConfig, type ClipConfig, type VisionConfig, type TextConfig, type OpenAIOverrides } from './models/clip-config.ts';
export { buildVisionGraph, buildTextGraph } from './models/clip-towers.ts';
export { Weights } from './models/weights.ts';
export { resolveLocalSource, type ResolvedSource } from './models/source.ts';
export { compileModel, buildGraphs, type ModelMeta, type CompiledModel } from './models/convert.ts';
export { openClipFamily, OPENAI_MEAN, OPENAI_STD } from './models/open-clip-family.ts';
export { FAMILIES, familyFor } from './models/families.ts';
export type { Family, BuiltModel, TextSpec, ScoreSpec, TextTokenizer } from './models/family.ts';
export { ClipModel, normalizeRows, type LoadOptions, type EmbedOptions, type ImageEmbeddings, type TextEmbeddings } from './models/clip-model.ts';
export { randomClipStateDict, vitB } from './models/random-weights.ts';

// ---- runtime
export type { Backend, Session, SessionOptions, TensorIn, TensorOut } from './runtime/session.ts';
export { nodeBackend } from './runtime/node-backend.ts';
export { cacheRoot, checkpointHash } from './runtime/graph-cache.ts';

// ---- image
export type { Raster, FloatImage } from './image/types.ts';
export { applyWindow, parseWindow, toBytes, WINDOW_PRESETS, type Window, type VoiFunction, type WindowPreset } from './image/window.ts';

// ---- checkpoint
export type { DType, Tensor, StateDict } from './checkpoint/types.ts';
export { readSafetensors, readSafetensorsMetadata, writeSafetensors } from './checkpoint/safetensors.ts';
export { readTorchZip, readTorchObject, findStateDict, isTensor } from './checkpoint/torch.ts';
export { readCheckpoint, readCheckpointBytes, sniffCheckpoint, hashFile } from './checkpoint/load.ts';
export { halfToFloat, floatToHalf } from './checkpoint/dtype.ts';
