// clipmed heatmap: zero-shot localization maps for prompts, as PNG overlays on the original image and float arrays.
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import sharp from 'sharp';
import { getSpec, heatmaps, listModels, writeNpy } from '../../index.ts';
import { writeFileAtomic } from '../files.ts';
import { INPUT_HELP, loadImages } from '../images.ts';
import { overlayOnOriginal, placement } from '../overlay.ts';
import { collect, Failures, loadModel, MODEL_HELP, progress, PROTOCOL_HELP, type ModelOptions } from '../shared.ts';
import { printJson, say } from '../output.ts';

interface HeatmapOptions extends ModelOptions {
  text: string[];
  outDir: string;
  npy?: boolean;
  alpha: string;
  window?: string;
  json?: boolean;
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'prompt';

/** File stems that never repeat within a run: `name`, then `name-2`, `name-3`, ... (compared without case). */
export function uniqueNamer(): (stem: string) => string {
  const used = new Set<string>();
  return (stem) => {
    let name = stem;
    for (let n = 2; used.has(name.toLowerCase()); n++) name = `${stem}-${n}`;
    used.add(name.toLowerCase());
    return name;
  };
}

export function register(program: Command): void {
  program
    .command('heatmap')
    .description('zero-shot localization: where each prompt matches the image (patch embeddings vs text, mean over prompts removed)')
    .argument('<inputs...>', INPUT_HELP)
    .requiredOption('-m, --model <source>', MODEL_HELP)
    .option('--protocol <name>', PROTOCOL_HELP)
    .requiredOption('-t, --text <prompt>', 'prompt to localize; repeatable (with one prompt, neutral reference prompts are added)', collect, [])
    .option('-o, --out-dir <dir>', 'where to write <image>-<prompt>.png, the map over the original image at its size (created if missing; names that would repeat get -2, -3, ...)', '.')
    .option('--npy', "also write each map as float32 [H, W] .npy over the model's input")
    .option('--alpha <a>', 'overlay opacity', '0.5')
    .option('--window <preset|C,W>', 'display window for DICOM/NIfTI/16-bit inputs')
    .option('--json', 'print the files written and whether a map had no contrast')
    .addHelpText('after', `
Example:
  clipmed heatmap chest.jpeg --model biomedclip -t "pleural effusion" -t "cardiomegaly" -o maps/`)
    .action(async (inputs: string[], opts: HeatmapOptions) => {
      const failures = new Failures();
      const model = await loadModel(opts);
      const { images } = await loadImages(inputs, opts, failures);
      const written: Array<{ input: string; prompt: string; png: string; npy?: string; flat: boolean }> = [];
      // the geometry of the model's input: a protocol (CheXzero's) fits the longest side and pads
      const registered = (listModels() as string[]).includes(opts.model) ? getSpec(opts.model as Parameters<typeof getSpec>[0]) : undefined;
      const protocol = opts.protocol ?? registered?.preprocess?.protocol;
      const mode = protocol ? 'longest' : model.meta.preprocess.resizeMode;
      const name = uniqueNamer();
      const bar = progress(images.length, 'heatmaps');
      for (const img of images) {
        try {
          const r = await heatmaps(model, img.raster, opts.text, Number(opts.alpha));
          const stem = slug(basename(img.source, extname(img.source)));
          const where = placement(img.raster.width, img.raster.height, r.width, r.height, mode);
          for (const h of r.heatmaps) {
            const png = join(opts.outDir, `${name(`${stem}-${slug(h.prompt)}`)}.png`);
            const overlay = overlayOnOriginal(img.raster, h.map, r.width, r.height, where, Number(opts.alpha));
            await writeFileAtomic(png, await sharp(Buffer.from(overlay), { raw: { width: img.raster.width, height: img.raster.height, channels: 3 } }).png().toBuffer());
            let npy: string | undefined;
            if (opts.npy) {
              npy = png.replace(/\.png$/, '.npy');
              await writeFileAtomic(npy, writeNpy(h.map, [r.height, r.width]));
            }
            written.push({ input: img.source, prompt: h.prompt, png, npy, flat: h.flat });
          }
        } catch (err) {
          failures.add(img.source, err);
        }
        bar.tick();
      }
      bar.stop();
      if (opts.json) printJson({ model: model.source.name, heatmaps: written, failures: failures.items });
      else for (const w of written) say(`${w.png}${w.npy ? ` ${w.npy}` : ''}  (${w.prompt}${w.flat ? ', no contrast' : ''})`);
      failures.report();
      await model.release();
    });
}
