// Pieces every model command shares: loading a model with messages on stderr, progress bars, output.
import cliProgress from 'cli-progress';
import { ClipModel, hubProgressBars, parseDevice, parseDType } from '../index.ts';
import { describeError, redact, safeText } from './output.ts';
import { parseNumberOption } from './validate.ts';

let quiet = false;
/** `--quiet`: no progress bars and no messages on stderr, only errors. */
export function setQuiet(q: boolean): void {
  quiet = q;
}

/** Progress bars are drawn only on a terminal, without --quiet and without HF_HUB_DISABLE_PROGRESS_BARS. */
export function showProgress(): boolean {
  const off = /^(1|on|yes|true)$/i.test(process.env.HF_HUB_DISABLE_PROGRESS_BARS ?? '');
  return Boolean(process.stderr.isTTY) && !quiet && !off;
}

/** A message for the user on stderr (nothing with --quiet). */
export function info(message: string): void {
  if (!quiet) process.stderr.write(`clipmed: ${safeText(message)}\n`);
}

export interface ModelOptions {
  model: string;
  threads?: string;
  protocol?: string;
}

export const PROTOCOL_HELP = "a published preprocessing protocol instead of the checkpoint's own: chexzero (longest side to 320, pad, normalise on 0-255, bicubic to 224), biovil / biovil-t (stretch to 0-255, grey, bilinear shortest side to 512, centre crop 480 / 448, no normalisation), medclip (grey square canvas, bicubic to 224, one-channel normalisation), gloria (grey, cv2 INTER_AREA longest side to 256, pad, centre crop 224, normalise 0.5)";

export const MODEL_HELP = 'a registered name (see `clipmed models`), hf-hub:ORG/NAME[@REVISION], a local folder (open_clip or transformers layout), an OpenAI-format state dict (.pt/.bin) or MedCLIP\'s release .zip';

export async function loadModel(opts: ModelOptions): Promise<ClipModel> {
  const bars = showProgress() ? hubProgressBars() : { onProgress() {}, stop() {} };
  try {
    return await ClipModel.load(opts.model, {
      threads: opts.threads ? parseNumberOption('threads', opts.threads) : undefined,
      protocol: opts.protocol,
      // --device (src/cli/commands/device.ts) or the environment
      device: process.env.CLIPMED_DEVICE ? parseDevice(process.env.CLIPMED_DEVICE) : undefined,
      dtype: process.env.CLIPMED_DTYPE ? parseDType(process.env.CLIPMED_DTYPE) : undefined,
      log: info,
      onProgress: bars.onProgress,
    });
  } finally {
    bars.stop();
  }
}

/** A progress bar on stderr when it is a terminal and there is enough work to watch; silent otherwise. */
export function progress(total: number, label: string): { tick(n?: number): void; stop(): void } {
  if (!showProgress() || total < 8) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {eta_formatted} left`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
}

/** Rows of a [n, dim] matrix as plain arrays (for JSON). */
export function rows(m: Float32Array, dim: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < m.length / dim; r++) out.push(Array.from(m.subarray(r * dim, (r + 1) * dim)));
  return out;
}

/** Collects per-input failures so that a batch goes on and reports them at the end. */
export class Failures {
  readonly items: Array<{ input: string; error: string }> = [];
  add(input: string, err: unknown) {
    this.items.push({ input: redact(input), error: describeError(err) });
  }
  /** Print the list to stderr and set a non-zero exit code when there were any. */
  report(): void {
    if (this.items.length === 0) return;
    process.stderr.write(`clipmed: ${this.items.length} input(s) failed:\n`);
    for (const f of this.items) process.stderr.write(`  ${safeText(f.input)}: ${f.error}\n`);
    process.exitCode = 1;
  }
}

export const collect = (v: string, prev: string[] = []) => [...prev, v];
