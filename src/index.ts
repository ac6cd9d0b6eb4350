// clipmed's public API. The CLI, server and web app import only this file.

// ---- errors
export * from './errors.ts';

// ---- checkpoint
export type { DType, Tensor, StateDict } from './checkpoint/types.ts';
export { readSafetensors, readSafetensorsMetadata, writeSafetensors } from './checkpoint/safetensors.ts';
export { readTorchZip, readTorchObject, findStateDict, isTensor } from './checkpoint/torch.ts';
export { readCheckpoint, readCheckpointBytes, sniffCheckpoint, hashFile } from './checkpoint/load.ts';
export { halfToFloat, floatToHalf } from './checkpoint/dtype.ts';
