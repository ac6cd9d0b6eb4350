// clipmed heatmap: zero-shot localization maps for prompts, as PNG overlays and float arrays.
import { writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import sharp from 'sharp';
import { heatmaps, writeNpy } from '../../index.ts';
import { INPUT_HELP, loadImages } from '../images.ts';
import { collect, Failures, loadModel, MODEL_HELP, PROTOCOL_HELP, type ModelOptions } from '../shared.ts';

interface HeatmapOptions extends ModelOptions {
  text: string[];
  outDir: string;
  npy?: boolean;
  alpha: string;
  window?: string;
  json?: boolean;
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'prompt';

export function register(program: Command): void {
  program
    .command('heatmap')
    .description('zero-shot localization: where each prompt matches the image (patch embeddings vs text, mean over prompts removed)')
    .argument('<inputs...>', INPUT_HELP)
    .requiredOption('-m, --model <source>', MODEL_HELP)
    .option('--protocol <name>', PROTOCOL_HELP)
    .requiredOption('-t, --text <prompt>', 'prompt to localize; repeatable (with one prompt, neutral reference prompts are added)', collect, [])
    .option('-o, --out-dir <dir>', 'where to write <image>-<prompt>.png (and .npy)', '.')
    .option('--npy', 'also write each map as float32 [H, W] .npy')
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
      for (const img of images) {
        try {
          const r = await heatmaps(model, img.raster, opts.text, Number(opts.alpha));
          const stem = slug(basename(img.source, extname(img.source)));
          for (const h of r.heatmaps) {
            const png = join(opts.outDir, `${stem}-${slug(h.prompt)}.png`);
            await sharp(Buffer.from(h.overlay), { raw: { width: r.width, height: r.height, channels: 3 } }).png().toFile(png);
            let npy: string | undefined;
            if (opts.npy) {
              npy = png.replace(/\.png$/, '.npy');
              await writeFile(npy, writeNpy(h.map, [r.height, r.width]));
            }
            written.push({ input: img.source, prompt: h.prompt, png, npy, flat: h.flat });
          }
        } catch (err) {
          failures.add(img.source, err);
        }
      }
      if (opts.json) console.log(JSON.stringify({ model: model.source.name, heatmaps: written, failures: failures.items }));
      else for (const w of written) console.log(`${w.png}${w.npy ? ` ${w.npy}` : ''}  (${w.prompt}${w.flat ? ', no contrast' : ''})`);
      failures.report();
      await model.release();
    });
}
