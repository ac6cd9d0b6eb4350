// clipmed read: decode DICOM, NIfTI or 16-bit rasters (files, folders, DICOMweb URLs) and show or save
// what is in them: metadata, the values after the modality LUT (.npy), what a reader sees (.png).
import type { Command } from 'commander';
import sharp from 'sharp';
import { readVolume } from '../read-volume.ts';
import { decodeDicom, loadInputs, parseWindow, toDisplayRaster, writeNpy, type DecodedImage } from '../../index.ts';
import { writeFileAtomic } from '../files.ts';
import { printJson, redact, say } from '../output.ts';
import { Failures } from '../shared.ts';

interface ReadOptions {
  frame?: string;
  json?: boolean;
  npy?: string;
  png?: string;
  window?: string;
  phi?: boolean;
  maxPixels?: string;
  volume?: boolean;
  series?: string;
}

/** `out.png` for one image, `out-2.png` for the third of several. */
const numbered = (path: string, i: number, n: number) => (n === 1 ? path : path.replace(/(\.\w+)?$/, (ext) => `-${i}${ext}`));

function summary(img: DecodedImage): Record<string, unknown> {
  const { phi, ...meta } = img.meta;
  return { source: redact(img.source), rows: img.rows, columns: img.columns, frames: img.frames, samples: img.samplesPerPixel, photometric: img.photometric, windows: img.windows, ...meta, ...(phi ? { phi } : {}) };
}

export function register(program: Command): void {
  program
    .command('read')
    .description('decode medical images (DICOM, NIfTI, PNG/TIFF 8/16-bit) and print their metadata or save their pixels')
    .argument('<inputs...>', 'files, folders or dicomweb+http(s):// URLs')
    .option('--frame <n>', 'one frame of a multi-frame DICOM (0-based); default all for --npy, the first for --png')
    .option('--json', 'print the metadata as JSON (no patient identifiers unless --phi)')
    .option('--npy <out.npy>', 'write the values after the modality LUT, float32 [frames, rows, columns, samples]')
    .option('--png <out.png>', 'write what a reader sees: the VOI window applied, MONOCHROME1 inverted')
    .option('--window <preset|C,W>', 'window for --png: lung, mediastinum, bone, brain, abdomen, or center,width')
    .option('--phi', 'include patient identifiers (name, ID, birth date, ...) in the output')
    .option('--max-pixels <n>', 'refuse images with more values than this, before decoding')
    .option('--volume', 'read a DICOM series (a folder) or an enhanced multi-frame file as one 3D volume: slices sorted along the slice normal; --npy writes float32 [slices, rows, columns], --json the affine (RAS+, as NIfTI), spacing and orientation')
    .option('--series <uid>', 'with --volume: the Series Instance UID to read when the folder holds several')
    .addHelpText('after', `
Examples:
  clipmed read ../shared/data/dicom/pydicom-test-files/CT_small.dcm --json
  clipmed read ct.dcm --window lung --png lung.png --npy hu.npy
  clipmed read SERIES_DIR --volume --npy volume.npy --json`)
    .action(async (inputs: string[], opts: ReadOptions) => {
      if (opts.volume) return readVolume(inputs, opts);
      const failures = new Failures();
      const window = opts.window ? parseWindow(opts.window) : undefined;
      const frame = opts.frame !== undefined ? Number(opts.frame) : undefined;
      const loaded = await loadInputs(inputs, {
        maxPixels: opts.maxPixels ? Number(opts.maxPixels) : undefined,
        decodeDicom: (bytes, o) => decodeDicom(bytes, { ...o, frame, phi: opts.phi }),
      });
      for (const f of loaded.failures) failures.add(f.input, f.error);
      const out: Record<string, unknown>[] = [];
      const n = loaded.images.length;
      for (const [i, { image }] of loaded.images.entries()) {
        try {
          const written: Array<{ file: string; what: string }> = [];
          if (opts.npy) {
            const shape = [image.frames, image.rows, image.columns, image.samplesPerPixel];
            const file = numbered(opts.npy, i, n);
            await writeFileAtomic(file, writeNpy(image.data, shape));
            written.push({ file, what: `float32 [${shape.join(', ')}] after the modality LUT` });
          }
          if (opts.png) {
            const r = toDisplayRaster(image, 0, window);
            const file = numbered(opts.png, i, n);
            await writeFileAtomic(file, await sharp(Buffer.from(r.data), { raw: { width: r.width, height: r.height, channels: r.channels } }).png().toBuffer());
            written.push({ file, what: `${r.width}x${r.height} ${r.channels === 1 ? 'grey' : 'RGB'} PNG through the window` });
          }
          out.push({ ...summary(image), ...(written.length ? { written } : {}) });
        } catch (err) {
          failures.add(image.source, err);
        }
      }
      if (opts.json) printJson(n === 1 && inputs.length === 1 && !failures.items.length ? out[0] : { images: out, failures: failures.items }, 2);
      else {
        for (const s of out) {
          say(`${s.source}: ${s.modality ? `${s.modality} ` : ''}${s.columns}x${s.rows}, ${s.frames} frame(s), ${s.samples} sample(s), ${s.photometric}`);
          if (s.transferSyntaxUID) say(`  transfer syntax ${s.transferSyntaxUID}, ${s.bitsStored}/${s.bitsAllocated} bits, rescale ${s.rescaleSlope ?? 1} x + ${s.rescaleIntercept ?? 0}`);
          const w = s.windows as Array<{ center: number; width: number }>;
          if (w?.length) say(`  windows ${w.map((x) => `${x.center}/${x.width}`).join(', ')}`);
          for (const f of (s.written ?? []) as Array<{ file: string; what: string }>) say(`  wrote ${f.file} (${f.what})`);
        }
      }
      failures.report();
    });
}
