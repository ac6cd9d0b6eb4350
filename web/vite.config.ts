// The browser app: `npm run build:web` writes static files to web/dist, which `clipmed serve` serves at /.
// clipmed's core modules are imported directly: none imports a Node module (test/node/boundary.test.ts), so no
// shims are needed.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

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
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
  },
  server: { fs: { allow: ['..'] } },
});
