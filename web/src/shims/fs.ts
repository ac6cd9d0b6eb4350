// Browser stand-in for node:fs and node:fs/promises: the page hands clipmed bytes, never paths, so none of
// these is ever called there; each throws if it were. The list covers what clipmed's readers import.
const refuse = (): never => {
  throw new Error('no file system in the browser: clipmed is given the bytes of a file here');
};
export const readFile = refuse;
export const writeFile = refuse;
export const appendFile = refuse;
export const readdir = refuse;
export const opendir = refuse;
export const stat = refuse;
export const lstat = refuse;
export const readlink = refuse;
export const realpath = refuse;
export const mkdir = refuse;
export const mkdtemp = refuse;
export const rm = refuse;
export const rmdir = refuse;
export const unlink = refuse;
export const rename = refuse;
export const copyFile = refuse;
export const open = refuse;
export const access = refuse;
export const createReadStream = refuse;
export const createWriteStream = refuse;
export const existsSync = refuse;
export const readFileSync = refuse;
export const writeFileSync = refuse;
export const statSync = refuse;
export const constants = {};
export default { readFile, writeFile, readdir, stat, lstat, readlink, realpath, mkdir, rm, rename, open, access, constants };
