// The browser app: `npm run build:web` writes static files to web/dist, which `clipmed serve` serves at /.
// clipmed's core modules are imported directly; the few Node-only modules some of them import at the top are
// replaced by shims that throw a clear error if a browser path ever reaches them.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const shim = (name: string) => fileURLToPath(new URL(`./src/shims/${name}.ts`, import.meta.url));

// The CLI's heatmap overlay (src/cli/overlay.ts) takes only `jet` from the package entry; in the page that
// import resolves to the browser entry, so local mode draws heatmaps exactly as `clipmed heatmap` does.
const overlayFromBrowserEntry: Plugin = {
  name: 'clipmed-overlay-browser-entry',
  enforce: 'pre',
  resolveId(source, importer) {
    if (source === '../index.ts' && importer?.endsWith('/src/cli/overlay.ts')) return fileURLToPath(new URL('../src/browser.ts', import.meta.url));
    return null;
  },
};

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [overlayFromBrowserEntry],
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
