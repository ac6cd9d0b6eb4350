// clipmed embed: image and text embeddings as open_clip's encode_image / encode_text return them.
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { attachModelInput, ConfigError, decodeInOrder, DecodePool, parseDecodeThreads, poolThreads, readNpy, ShapeError, type InputEntry, type Raster } from '../../index.ts';
import { collect, Failures, loadModel, MODEL_HELP, PROTOCOL_HELP, progress, rows, type ModelOptions } from '../shared.ts';
import { DECODE_THREADS_HELP } from '../images.ts';
import { printJson, say } from '../output.ts';
import { embedSeries } from '../series-embed.ts';
import { embedAgainstPrior, PRIOR_HELP, readPrior } from '../prior.ts';

interface EmbedOptions extends ModelOptions {
  image: string[];
  window?: string;
  pixelValues?: string;
  prior?: string;
  text: string[];
  normalize?: boolean;
  json?: boolean;
  batchSize: string;
  decodeThreads?: string;
  slices?: string;
  pool?: string;
}

export function register(program: Command): void {
  program
    .command('embed')
    .description('embed images and texts with a CLIP model; prints the projected features (unnormalised unless --normalize)')
    .requiredOption('-m, --model <source>', MODEL_HELP)
    .option('--protocol <name>', PROTOCOL_HELP)
    .option('-i, --image <file>', 'image file: JPEG, PNG, TIFF, DICOM or NIfTI (middle axial slice); repeatable', collect, [])
    .option('--window <preset|C,W>', 'display window for DICOM and NIfTI images: lung, mediastinum, bone, brain, abdomen, or center,width')
    .option('--pixel-values <file.npy>', 'float32 NumPy array [N,3,H,W] fed to the image tower as is, skipping preprocessing')
    .option('--prior <image>', PRIOR_HELP)
    .option('-t, --text <string>', 'text to embed; repeatable', collect, [])
    .option('--normalize', 'L2-normalise the embeddings')
    .option('--slices <which>', 'each --image that is a DICOM series (a folder) becomes one embedding: its middle slice, all, or N evenly spread, pooled')
    .option('--pool <how>', 'with --slices: mean of the slices\' unit embeddings, or max per dimension', 'mean')
    .option('--json', 'print {"model", "images": [{"path", "embedding"}], "texts": [{"text", "tokens", "embedding"}]}')
    .option('--batch-size <n>', 'images per forward pass', '8')
    .option('--threads <n>', 'CPU threads (default: all cores)')
    .option('--decode-threads <n>', DECODE_THREADS_HELP)
    .addHelpText('after', `
Examples:
  clipmed embed --model ../shared/fixtures/open_clip/tiny-quickgelu --image chest.jpeg --text "pneumonia" --json
  clipmed embed --model chexzero.pt --pixel-values batch.npy --normalize --json
  clipmed embed --model biovil-t --protocol biovil-t --image today.dcm --prior last-year.dcm --json`)
    .action(async (opts: EmbedOptions) => {
      parseDecodeThreads(opts.decodeThreads); // checked before anything is loaded
      const model = await loadModel(opts);
      const failures = new Failures();
      const images: Array<{ path: string; embedding: number[] }> = [];
      const E = model.embedDim;
      if (opts.prior && (opts.pixelValues || opts.slices)) throw new ConfigError('--prior pairs decoded --image files with the previous image; not --pixel-values or --slices');
      // each --image is a series folder (with --slices: embedded by embedSeries) or a file, decoded in worker threads
      const isSeries = await Promise.all(opts.image.map(async (p) => Boolean(opts.slices) && Boolean((await stat(p).catch(() => undefined))?.isDirectory())));
      const fileSlots = opts.image.flatMap((_, i) => (isSeries[i] ? [] : [i]));
      const entries: InputEntry[] = fileSlots.map((i) => ({ input: opts.image[i]!, source: opts.image[i]!, kind: 'file', inFolder: false }));
      const prior = opts.prior ? await readPrior(model, opts.prior, opts.window) : undefined;

      if (opts.pixelValues) {
        const npy = readNpy(await readFile(opts.pixelValues), opts.pixelValues);
        if (!(npy.data instanceof Float32Array) || npy.shape.length !== 4 || npy.shape[1] !== 3) {
          throw new ShapeError(`expected float32 [N,3,H,W], got ${npy.dtype} [${npy.shape}]`, { file: opts.pixelValues });
        }
        const n = npy.shape[0]!;
        const r = await model.embedPixels(npy.data, n, { normalize: opts.normalize });
        rows(r.embeddings, E).forEach((e, i) => images.push({ path: `${opts.pixelValues}[${i}]`, embedding: e }));
      }

      // what each --image gave, so that files and series come out in the order they were named
      const per = opts.image.map(() => ({ images: [] as Array<{ path: string; embedding: number[] }>, failures: [] as Array<{ input: string; error: unknown }> }));
      const bs = Math.max(1, Number(opts.batchSize));
      // a chunk of files at a time: decoded ahead in the workers (at most one chunk), embedded, and let go, so memory
      // does not grow with the number of files
      const chunk = Math.max(32, bs * 4);
      const bar = progress(opts.image.length, 'embedding images');
      // JPEG/PNG/TIFF through the PIL-equivalent decoder (what open_clip's transform sees); DICOM and NIfTI through
      // the medical readers, shown through their window (or --window); each made into the model's input there too
      const threads = poolThreads(opts.decodeThreads, entries.length, chunk);
      const pool = new DecodePool(threads, { window: opts.window, input: model.imageInput, pilRasters: true });
      try {
        let decoded: Array<{ slot: number; path: string; raster: Raster }> = [];
        let files = 0;
        const embedChunk = async () => {
          for (let i = 0; i < decoded.length; i += bs) {
            const batch = decoded.slice(i, i + bs);
            const rasters = batch.map((d) => d.raster);
            const r = prior ? await embedAgainstPrior(model, rasters, prior, { normalize: opts.normalize, batchSize: bs }) : await model.embedRasters(rasters, { normalize: opts.normalize, batchSize: bs });
            rows(r.embeddings, E).forEach((e, j) => per[batch[j]!.slot]!.images.push({ path: batch[j]!.path, embedding: e }));
          }
          bar.tick(files);
          decoded = [];
          files = 0;
        };
        let k = 0;
        for await (const r of decodeInOrder(pool, entries, chunk)) {
          const slot = fileSlots[k++]!;
          if (r.fatal) throw r.fatal;
          per[slot]!.failures.push(...r.failures);
          for (const im of r.images) {
            // the model input made in the worker goes with the raster: the model's preprocessRasters takes it as it is
            if (im.pixels) attachModelInput(im.raster, model.imageInput, im.pixels);
            decoded.push({ slot, path: im.source, raster: im.raster });
          }
          if (++files === chunk) await embedChunk();
        }
        await embedChunk();
      } finally {
        await pool.close();
      }
      for (const [i, path] of opts.image.entries()) {
        if (!isSeries[i]) continue;
        try {
          per[i]!.images.push(await embedSeries(model, path, { slices: opts.slices!, pool: opts.pool, window: opts.window, normalize: opts.normalize, batchSize: bs }));
        } catch (err) {
          per[i]!.failures.push({ input: path, error: err });
        }
        bar.tick(1);
      }
      for (const p of per) {
        images.push(...p.images);
        for (const f of p.failures) failures.add(f.input, f.error);
      }
      bar.stop();

      const texts: Array<{ text: string; tokens: number[]; embedding: number[] }> = [];
      if (opts.text.length > 0) {
        const r = await model.embedTexts(opts.text, { normalize: opts.normalize });
        const C = model.meta.text.contextLength;
        rows(r.embeddings, E).forEach((e, i) => texts.push({ text: opts.text[i]!, tokens: Array.from(r.tokens.subarray(i * C, (i + 1) * C)), embedding: e }));
      }

      if (opts.json) {
        printJson({ model: model.source.name, images, texts, failures: failures.items });
      } else {
        const show = (e: number[]) => {
          const norm = Math.sqrt(e.reduce((s, v) => s + v * v, 0));
          return `[${e.slice(0, 4).map((v) => v.toFixed(4)).join(', ')}, ...] (dim ${e.length}, norm ${norm.toFixed(4)})`;
        };
        for (const im of images) say(`image ${im.path}: ${show(im.embedding)}`);
        for (const t of texts) say(`text "${t.text}": ${show(t.embedding)}`);
      }
      failures.report();
      await model.release();
    });
}

