// The browser app: `npm run build:web` writes static files to web/dist, which `clipmed serve` serves at /.
// clipmed's core modules are imported directly; the few Node-only modules some of them import at the top are
// replaced by shims that throw a clear error if a browser path ever reaches them.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const shim = (name: string) => fileURLToPath(new URL(`./src/shims/${name}.ts`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: {
    alias: [
      { find: /^node:fs(\/promises)?$/, replacement: shim('fs') },
      { find: /^node:zlib$/, replacement: shim('zlib') },
      { find: /^node:module$/, replacement: shim('module') },
      { find: /^node:path$/, replacement: shim('path') },
      { find: /^sharp$/, replacement: shim('sharp') },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
  },
  server: { fs: { allow: ['..'] } },
});
