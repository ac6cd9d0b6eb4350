// Browser stand-in for node:module: the page does not load the DICOM codecs (WASM) that the Node side loads
// with require; compressed DICOM pixel data is decoded by the server.
const refuse = (): never => {
  throw new Error('compressed DICOM pixel data (JPEG, JPEG-LS, JPEG 2000, HTJ2K) is decoded by the server: use server mode');
};
export function createRequire(): ((id: string) => never) & { resolve: (id: string) => never } {
  return Object.assign(refuse, { resolve: refuse });
}
export default { createRequire };
