// onnxruntime-node lives on the Node side of the platform boundary (src/node/ort-backend.ts); this module keeps
// the import path existing code uses.
export { nodeBackend, nodeWebGpuBackend, nodeProviderBundled } from '../node/ort-backend.ts';
