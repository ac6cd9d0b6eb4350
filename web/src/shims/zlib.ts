// Browser stand-in for node:zlib. The page gunzips .nii.gz with DecompressionStream before clipmed sees it;
// deflated DICOM (a rare transfer syntax) needs the server.
const refuse = (): never => {
  throw new Error('this file needs zlib, which the browser app does not bundle: use server mode');
};
export const inflateRawSync = refuse;
export const gunzipSync = refuse;
export const constants = {};
export default { inflateRawSync, gunzipSync, constants };
