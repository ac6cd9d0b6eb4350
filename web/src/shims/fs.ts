// Browser stand-in for node:fs: the page hands clipmed bytes, never paths.
const refuse = (): never => {
  throw new Error('no file system in the browser: clipmed is given the bytes of a file here');
};
export const readFile = refuse;
export const writeFile = refuse;
export const stat = refuse;
export const readdir = refuse;
export default { readFile, writeFile, stat, readdir };
