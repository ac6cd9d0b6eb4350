// Image files to 8-bit rasters. Decoding needs libvips (sharp), so it lives on the Node side of the platform
// boundary (src/node/image-decode.ts); this module keeps the import path that existing code uses. New core
// code takes rasters or bytes and leaves decoding to the platform (src/pipeline/platform.ts).
export { decodeImageBytes, decodeImageFile } from '../node/image-decode.ts';
