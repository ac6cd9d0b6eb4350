// clipmed train: train or fine-tune a CLIP on image-text pairs as open_clip's training script does, writing an
// open_clip folder that `clipmed --model DIR` and open_clip load.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ConfigError, trainRun, type StepMetrics, type TrainRunOptions } from '../../index.ts';
import { info, MODEL_HELP, showProgress } from '../shared.ts';

interface TrainCliOptions {
  model: string;
  data: string;
  out: string;
  val?: string;
  loss: string;
  epochs?: string;
  steps?: string;
  batchSize: string;
  lr: string;
  wd: string;
  beta1: string;
  beta2: string;
  eps: string;
  warmup: string;
  schedule: string;
  gradClip?: string;
  accum: string;
  lockImage?: boolean;
  lockText?: boolean;
  seed: string;
  shuffle: boolean;
  augment: boolean;
  resume?: string;
  saveEvery: string;
  threads?: string;
  json?: boolean;
}

function num(flag: string, text: string, o: { integer?: boolean; min?: number; positive?: boolean } = {}): number {
  const v = Number(text);
  const ok = text.trim() !== '' && Number.isFinite(v) && (!o.integer || Number.isInteger(v)) && (o.min === undefined || v >= o.min) && (!o.positive || v > 0);
  if (!ok) throw new ConfigError(`${flag} '${text}': expected ${o.integer ? 'a whole number' : 'a number'}${o.positive ? ' above 0' : o.min !== undefined ? ` from ${o.min}` : ''}`);
  return v;
}

export function register(program: Command): void {
  program
    .command('train')
    .description("train or fine-tune a CLIP on image-text pairs (open_clip's losses, AdamW, schedules); writes an open_clip folder")
    .requiredOption('-m, --model <source>', `${MODEL_HELP}, or an open_clip model config JSON ({"embed_dim", "vision_cfg", "text_cfg"}) to train from scratch with open_clip's initialisation`)
    .requiredOption('--data <train.csv|train.jsonl|dir>', 'training pairs: CSV or JSONL with `image` (path relative to the manifest) and `text` columns (or a `label` column whose class name is the text), or a folder of class folders')
    .requiredOption('--out <dir>', 'output folder: open_clip_config.json, open_clip_model.safetensors (+ open_clip_pytorch_model.bin for open_clip v2.24), metrics.jsonl, loss.svg, checkpoint.safetensors')
    .option('--val <val.csv>', 'validation pairs, evaluated after every epoch (loss, retrieval R@1/5/10, and zero-shot AUROC with the class names as prompts when the rows have a label column)')
    .option('--loss <clip|siglip|medclip|gloria>', "CLIP's symmetric InfoNCE (open_clip ClipLoss), SigLIP's sigmoid loss (SigLipLoss), MedCLIP's semantic matching loss (soft targets from the manifest's `label` column, classes separated by |), or gloria: the CLIP loss plus a GLoRIA-style word-to-patch local loss", 'clip')
    .option('--epochs <n>', 'passes over the data (the last partial batch of each is dropped)')
    .option('--steps <n>', 'optimiser steps (instead of --epochs)')
    .option('--batch-size <n>', 'pairs per micro-batch', '32')
    .option('--lr <x>', 'peak learning rate', '5e-4')
    .option('--wd <x>', 'AdamW weight decay (not on gains, biases, logit_scale)', '0.2')
    .option('--beta1 <x>', 'AdamW beta1', '0.9')
    .option('--beta2 <x>', 'AdamW beta2', '0.98')
    .option('--eps <x>', 'AdamW epsilon', '1e-6')
    .option('--warmup <steps>', 'linear warm-up steps', '0')
    .option('--schedule <cosine|const>', 'learning rate after warm-up', 'cosine')
    .option('--grad-clip <x>', 'clip the global gradient norm to this')
    .option('--accum <n>', "micro-batches per step; the loss sees all of them (open_clip's --accum-freq)", '1')
    .option('--lock-image', 'freeze the image tower (LiT)')
    .option('--lock-text', 'freeze the text tower')
    .option('--seed <n>', 'seed for initialisation, shuffling and augmentation', '0')
    .option('--no-shuffle', "take the manifest's rows in order")
    .option('--no-augment', "open_clip's evaluation transform instead of its random resized crop")
    .option('--resume <dir>', 'continue from the checkpoint in DIR (same options), e.g. after a crash')
    .option('--save-every <n>', 'steps between checkpoints (also at the end of every epoch)', '50')
    .option('--threads <n>', 'CPU threads (default: all cores)')
    .option('--json', 'print a JSON summary on stdout')
    .addHelpText('after', `
Examples:
  clipmed train --model tiny-config.json --data train.csv --out run1 --epochs 10 --batch-size 64 --lr 1e-3 --warmup 50
  clipmed train --model run1 --data hospital.csv --val val.csv --out run2 --steps 500 --lock-image
  clipmed train --model tiny-config.json --data train.csv --out run1 --epochs 10 --resume run1   # after a crash`)
    .action(async (o: TrainCliOptions) => {
      if (o.loss !== 'clip' && o.loss !== 'siglip' && o.loss !== 'medclip' && o.loss !== 'gloria') throw new ConfigError(`--loss '${o.loss}': expected clip, siglip, medclip or gloria`);
      if (o.schedule !== 'cosine' && o.schedule !== 'const') throw new ConfigError(`--schedule '${o.schedule}': expected cosine or const`);
      if ((o.epochs === undefined) === (o.steps === undefined)) throw new ConfigError('give one of --epochs N or --steps N');
      for (const [flag, f] of [['--data', o.data], ['--val', o.val], ['--resume', o.resume]] as const) if (f && !existsSync(f)) throw new ConfigError(`${flag}: no such file or folder`, { file: f });
      const opts: TrainRunOptions = {
        model: o.model, data: o.data, out: o.out, val: o.val, loss: o.loss,
        epochs: o.epochs !== undefined ? num('--epochs', o.epochs, { integer: true, positive: true }) : undefined,
        steps: o.steps !== undefined ? num('--steps', o.steps, { integer: true, positive: true }) : undefined,
        batchSize: num('--batch-size', o.batchSize, { integer: true, positive: true }),
        lr: num('--lr', o.lr, { min: 0 }), wd: num('--wd', o.wd, { min: 0 }),
        beta1: num('--beta1', o.beta1, { min: 0 }), beta2: num('--beta2', o.beta2, { min: 0 }), eps: num('--eps', o.eps, { positive: true }),
        warmup: num('--warmup', o.warmup, { integer: true, min: 0 }), schedule: o.schedule,
        gradClip: o.gradClip !== undefined ? num('--grad-clip', o.gradClip, { positive: true }) : undefined,
        accum: num('--accum', o.accum, { integer: true, positive: true }),
        lockImage: Boolean(o.lockImage), lockText: Boolean(o.lockText),
        seed: num('--seed', o.seed, { integer: true, min: 0 }), shuffle: o.shuffle, augment: o.augment, resume: o.resume,
        saveEvery: num('--save-every', o.saveEvery, { integer: true, positive: true }),
        threads: o.threads !== undefined ? num('--threads', o.threads, { integer: true, positive: true }) : undefined,
      };
      if (opts.beta1 >= 1 || opts.beta2 >= 1) throw new ConfigError('--beta1 and --beta2 must be below 1');
      let bar: cliProgress.SingleBar | null = null;
      let loadBar: cliProgress.SingleBar | null = null;
      const summary = await trainRun(opts, {
        log: info,
        loading: (done, total) => {
          if (!showProgress()) return;
          if (!loadBar) {
            loadBar = new cliProgress.SingleBar({ format: 'decoding [{bar}] {value}/{total} images', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
            loadBar.start(total, 0);
          }
          loadBar.update(done);
          if (done >= total) {
            loadBar.stop();
            loadBar = null;
          }
        },
        step: (m: StepMetrics, total: number) => {
          if (!showProgress()) return;
          if (!bar) {
            bar = new cliProgress.SingleBar(
              { format: 'training [{bar}] {value}/{total} steps | loss {loss} | lr {lr} | scale {scale} | {ips} img/s | {eta_formatted} left', stream: process.stderr, hideCursor: true },
              cliProgress.Presets.shades_classic,
            );
            bar.start(total, m.step, { loss: '-', lr: '-', scale: '-', ips: '-' });
          }
          bar.update(m.step + 1, { loss: m.loss.toFixed(4), lr: m.lr.toExponential(2), scale: m.logit_scale.toFixed(2), ips: m.images_per_s.toFixed(1) });
          if (m.step + 1 >= total) bar.stop();
        },
      });
      (bar as cliProgress.SingleBar | null)?.stop();
      for (const s of summary.skipped) info(`skipped ${s.image}: ${s.reason}`);
      if (o.json) console.log(JSON.stringify(summary));
      else {
        console.log(`trained ${summary.steps} steps (${summary.epochs} epochs) on ${summary.images} pairs: final loss ${summary.finalLoss.toFixed(4)}, logit scale ${summary.logitScale.toFixed(2)}`);
        if (summary.val) console.log(`validation: loss ${summary.val.val_loss.toFixed(4)}, image->text R@1 ${summary.val.image_to_text_R1.toFixed(3)}, text->image R@1 ${summary.val.text_to_image_R1.toFixed(3)}`);
        console.log(`model written to ${summary.out} (use it as --model ${summary.out})`);
      }
    });
}
