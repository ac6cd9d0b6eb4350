// Browser stand-in for the few node:path helpers clipmed's readers use on names.
export const basename = (p: string, ext?: string): string => {
  const b = p.split('/').pop() ?? p;
  return ext && b.endsWith(ext) ? b.slice(0, -ext.length) : b;
};
export const dirname = (p: string): string => p.split('/').slice(0, -1).join('/') || '.';
export const join = (...parts: string[]): string => parts.join('/').replace(/\/+/g, '/');
export const extname = (p: string): string => /\.[^./]*$/.exec(p)?.[0] ?? '';
export default { basename, dirname, join, extname };
