// clipmed embed: image and text embeddings as open_clip's encode_image / encode_text return them.
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConfigError, decodeImageFile, loadInputs, readNpy, ShapeError, sniffFormat, toDisplayRaster, type Raster } from '../../index.ts';
import { collect, Failures, loadModel, MODEL_HELP, PROTOCOL_HELP, progress, rows, type ModelOptions } from '../shared.ts';
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
    .addHelpText('after', `
Examples:
  clipmed embed --model ../shared/fixtures/open_clip/tiny-quickgelu --image chest.jpeg --text "pneumonia" --json
  clipmed embed --model chexzero.pt --pixel-values batch.npy --normalize --json
  clipmed embed --model biovil-t --protocol biovil-t --image today.dcm --prior last-year.dcm --json`)
    .action(async (opts: EmbedOptions) => {
      const model = await loadModel(opts);
      const failures = new Failures();
      const images: Array<{ path: string; embedding: number[] }> = [];
      const E = model.embedDim;
      if (opts.prior && (opts.pixelValues || (opts as { slices?: string }).slices)) throw new ConfigError('--prior pairs decoded --image files with the previous image; not --pixel-values or --slices');
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

      // JPEG/PNG/TIFF go through the PIL-equivalent decoder (what open_clip's transform sees); DICOM and
      // NIfTI through the medical readers, shown through their window (or --window)
      // a chunk of files at a time: decoded, embedded, and let go, so memory does not grow with the number of files
      const bs = Math.max(1, Number(opts.batchSize));
      const chunk = Math.max(32, bs * 4);
      const bar = progress(opts.image.length, 'embedding images');
      for (let c = 0; c < opts.image.length; c += chunk) {
        const decoded: Array<{ path: string; raster: Raster }> = [];
        for (const path of opts.image.slice(c, c + chunk)) {
          const series = (opts as { slices?: string }).slices;
          if (series && (await stat(path).catch(() => undefined))?.isDirectory()) {
            try {
              images.push(await embedSeries(model, path, { slices: series, pool: (opts as { pool?: string }).pool, window: opts.window, normalize: opts.normalize, batchSize: Math.max(1, Number(opts.batchSize)) }));
            } catch (err) {
              failures.add(path, err);
            }
            continue;
          }
          try {
            const head = new Uint8Array(await readFile(path)).subarray(0, 400);
            if (sniffFormat(head) === 'dicom' || sniffFormat(head) === 'nifti') {
              const loaded = await loadInputs([path], { window: opts.window });
              for (const f of loaded.failures) failures.add(f.input, f.error);
              for (const { image } of loaded.images) decoded.push({ path: image.source, raster: toDisplayRaster(image) });
            } else {
              decoded.push({ path, raster: await decodeImageFile(path) });
            }
          } catch (err) {
            failures.add(path, err);
          }
        }
        for (let i = 0; i < decoded.length; i += bs) {
          const batch = decoded.slice(i, i + bs);
          const rasters = batch.map((d) => d.raster);
          const r = prior ? await embedAgainstPrior(model, rasters, prior, { normalize: opts.normalize, batchSize: bs }) : await model.embedRasters(rasters, { normalize: opts.normalize, batchSize: bs });
          rows(r.embeddings, E).forEach((e, j) => images.push({ path: batch[j]!.path, embedding: e }));
        }
        bar.tick(Math.min(chunk, opts.image.length - c));
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

