// The child process of test/helpers/build-memory.ts's `measure()`, in plain JavaScript so that it runs both on the
// sources (`node --import tsx`, LIB = the checkout's src/, EXT = .ts) and on a built package with plain Node
// (LIB = its dist/, EXT = .js), as `npx clipmed` runs once installed.
//   node [--import tsx] build-memory-child.mjs MODE FOLDER BATCH LIB EXT
// MODE build: compile FOLDER into the graph cache ($CLIPMED_CACHE); embed: load it from the cache and embed BATCH
// images of noise; baseline: import the modules and do nothing. The last stdout line is a JSON report with the
// peak RSS (process.resourceUsage().maxRSS, KiB).
const [mode, folder, batchArg, lib, ext] = process.argv.slice(2);
// only the modules a build and an embedding need (not the whole public API)
const mod = (name) => import(`${lib}/node/${name}${ext}`);
const { resolveModelSource } = await mod('resolve');
const { compileModel } = await mod('compile');
const { ClipModel } = await mod('clip-model');
const out = { mode };
if (mode === 'build') {
  const { source } = await resolveModelSource(folder);
  const c = await compileModel(source);
  out.cached = c.cached;
  out.parameters = c.meta.parameters;
} else if (mode === 'embed') {
  const batch = Number(batchArg);
  const m = await ClipModel.load(folder, { threads: 2 });
  const s = m.meta.preprocess.size;
  const [h, w] = typeof s === 'number' ? [s, s] : s;
  const pixels = new Float32Array(batch * 3 * h * w).map((_, i) => Math.sin(i) * 0.5);
  const e = await m.embedPixels(pixels, batch, { batchSize: batch });
  out.rows = e.embeddings.length / m.embedDim;
  out.batchBytes = pixels.byteLength + e.embeddings.byteLength;
  out.loaded = m.loaded; // what embedding images started: the image graph only
  await m.release();
}
out.maxRssKiB = process.resourceUsage().maxRSS;
console.log(JSON.stringify(out));
