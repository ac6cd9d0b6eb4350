// The training run behind `clipmed train`: data, steps, validation each epoch, atomic checkpoints that a
// resumed run continues from to the same weights, metrics.jsonl, a loss plot, and the trained model as an
// open_clip folder (open_clip_config.json + open_clip_model.safetensors, and open_clip_pytorch_model.bin for
// open_clip versions that read weights with torch.load only, as v2.24.0 does).
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../../checkpoint/safetensors.ts';
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError } from '../../errors.ts';
import { ClipTokenizer } from '../../text/clip-bpe.ts';
import { epochOrder, normalizeHwc, sampleRng, trainTransform, type LoadedPairs } from '../../train/data.ts';
import type { FloatArray, Schedule } from '../../train/optim.ts';
import { lossPlotSvg } from '../../train/plot.ts';
import type { LossKind } from '../../train/train-graph.ts';
import { writeTorchZip } from '../../train/torch-zip.ts';
import { contrastiveMetrics, zeroShotAuroc, type ContrastiveMetrics } from '../../train/val.ts';
import '../tokenizer-files.ts'; // ClipTokenizer.load() reads the merges that ship with clipmed through it
import { ClipTrainer, type Batch } from './clip-trainer.ts';
import { loadPairs, readPairManifest } from './data.ts';
import { loadTrainSource } from './source.ts';

export interface TrainRunOptions {
  model: string;
  data: string;
  out: string;
  val?: string;
  loss: LossKind;
  epochs?: number;
  steps?: number;
  batchSize: number;
  lr: number;
  wd: number;
  beta1: number;
  beta2: number;
  eps: number;
  warmup: number;
  schedule: Schedule;
  gradClip?: number;
  accum: number;
  lockImage: boolean;
  lockText: boolean;
  seed: number;
  shuffle: boolean;
  augment: boolean;
  resume?: string;
  threads?: number;
  /** steps between checkpoints (also at every epoch's end and at the end) */
  saveEvery: number;
}

export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  logit_scale: number;
  images_per_s: number;
}

export interface ValMetrics extends ContrastiveMetrics {
  step: number;
  epoch: number;
  /** macro one-vs-rest AUROC of zero-shot scores (prompts: the class names), when val rows have a label */
  zero_shot_auroc?: number;
}

export interface TrainHooks {
  log?: (message: string) => void;
  loading?: (done: number, total: number) => void;
  step?: (m: StepMetrics, totalSteps: number) => void;
}

export interface TrainSummary {
  out: string;
  steps: number;
  epochs: number;
  resumedFrom: number | null;
  images: number;
  skipped: Array<{ image: string; reason: string }>;
  parameters: number;
  trainable: number;
  finalLoss: number;
  logitScale: number;
  val: ValMetrics | null;
  seconds: number;
}

async function atomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** The options that must be equal for a resumed run to continue the same training. */
const RESUME_KEYS: Array<keyof TrainRunOptions> = ['loss', 'batchSize', 'lr', 'wd', 'beta1', 'beta2', 'eps', 'warmup', 'schedule', 'gradClip', 'accum', 'lockImage', 'lockText', 'seed', 'shuffle', 'augment', 'epochs', 'steps'];

export async function trainRun(o: TrainRunOptions, hooks: TrainHooks = {}): Promise<TrainSummary> {
  const t0 = Date.now();
  const log = hooks.log ?? (() => {});
  for (const [k, v] of Object.entries({ batchSize: o.batchSize, accum: o.accum, saveEvery: o.saveEvery })) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a positive integer, got ${v}`);
  }
  if ((o.epochs === undefined) === (o.steps === undefined)) throw new ConfigError('give one of --epochs or --steps');
  const src = await loadTrainSource(o.model, { seed: o.seed, loss: o.loss, log });
  const tokenizer = await ClipTokenizer.load();
  const C = src.cfg.text.contextLength;
  const S = src.cfg.vision.imageSize;

  const load = async (file: string): Promise<{ data: LoadedPairs; ids: BigInt64Array; skipped: TrainSummary['skipped'] }> => {
    const m = await readPairManifest(file);
    const data = await loadPairs(m.rows, src.preprocess, hooks.loading);
    const skipped = [...m.missing.map((r) => ({ image: r.image, reason: 'file not found' })), ...data.failures.map((f) => ({ image: f.image, reason: f.error.message }))];
    const tok = tokenizer.tokenize(data.rows.map((r) => r.text), C);
    return { data, ids: BigInt64Array.from(tok, (x) => BigInt(x)), skipped };
  };
  const train = await load(o.data);
  const val = o.val ? await load(o.val) : null;
  // MedCLIP: each row's label vector (its `label` column: class names separated by '|') gives the soft targets
  let labelVectors: Float32Array | null = null;
  let classes: string[] = [];
  if (o.loss === 'medclip') {
    const names = train.data.rows.map((r, i) => {
      const l = r.record.label;
      if (l === undefined || l.trim() === '') throw new ConfigError(`--loss medclip needs a 'label' column with a class on every row; row ${i + 1} (${r.image}) has none`, { file: o.data });
      return l.split('|').map((x) => x.trim()).filter(Boolean);
    });
    classes = [...new Set(names.flat())].sort();
    labelVectors = new Float32Array(names.length * classes.length);
    names.forEach((ls, i) => ls.forEach((l) => (labelVectors![i * classes.length + classes.indexOf(l)] = 1)));
    log(`MedCLIP soft targets over ${classes.length} classes: ${classes.join(', ')}`);
  }
  const n = train.data.rows.length;
  const perStep = o.batchSize * o.accum;
  const stepsPerEpoch = Math.floor(n / perStep);
  if (stepsPerEpoch < 1) throw new ConfigError(`${n} usable pairs make no full step of --batch-size ${o.batchSize} x --accum ${o.accum} (the last partial batch is dropped, as open_clip does)`, { file: o.data });
  const totalSteps = o.steps ?? o.epochs! * stepsPerEpoch;
  const epochs = Math.ceil(totalSteps / stepsPerEpoch);

  const trainer = await ClipTrainer.create({
    cfg: src.cfg, weights: src.weights, loss: o.loss, batchSize: o.batchSize, lr: o.lr, weightDecay: o.wd, beta1: o.beta1, beta2: o.beta2, eps: o.eps,
    warmup: o.warmup, schedule: o.schedule, totalSteps, gradClip: o.gradClip, accum: o.accum, lockImage: o.lockImage, lockText: o.lockText, threads: o.threads,
  });
  await mkdir(o.out, { recursive: true });
  const ckptPath = join(o.out, 'checkpoint.safetensors');
  const metricsPath = join(o.out, 'metrics.jsonl');
  let start = 0;
  let metrics: Array<StepMetrics | ValMetrics> = [];
  if (o.resume) {
    const file = join(o.resume, 'checkpoint.safetensors');
    if (!existsSync(file)) throw new ConfigError('no checkpoint.safetensors to resume from', { file: o.resume });
    const bytes = new Uint8Array(await readFile(file));
    const meta = readSafetensorsMetadata(bytes, file);
    const saved = JSON.parse(meta.options ?? '{}') as Record<string, unknown>;
    const differ = RESUME_KEYS.filter((k) => JSON.stringify(saved[k] ?? null) !== JSON.stringify(o[k] ?? null));
    if (differ.length) throw new ConfigError(`the resumed run's options differ from the checkpoint's: ${differ.map((k) => `${k} ${JSON.stringify(saved[k])} -> ${JSON.stringify(o[k])}`).join(', ')}`, { file });
    restore(trainer, readSafetensors(bytes, file), Number(meta.adam_step));
    start = Number(meta.step);
    const old = existsSync(join(o.resume, 'metrics.jsonl')) ? (await readFile(join(o.resume, 'metrics.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    metrics = old.filter((m: StepMetrics) => m.step < start);
    log(`resuming at step ${start} of ${totalSteps} from ${file}`);
  }

  const pixelsPer = 3 * S * S;
  const batchOf = (order: number[], first: number, step: number): Batch => {
    const pixels = new Float32Array(o.batchSize * pixelsPer);
    const ids = new BigInt64Array(o.batchSize * C);
    const K = classes.length;
    const labels = labelVectors ? new Float32Array(o.batchSize * K) : undefined;
    for (let b = 0; b < o.batchSize; b++) {
      const row = order[first + b]!;
      if (labels) labels.set(labelVectors!.subarray(row * K, (row + 1) * K), b * K);
      if (o.augment) trainTransform(train.data.rasters[row]!, src.preprocess, sampleRng(o.seed, step, first + b), pixels, b * pixelsPer);
      else normalizeHwc(train.data.evalHwc[row]!, src.preprocess, pixels, b * pixelsPer);
      ids.set(train.ids.subarray(row * C, (row + 1) * C), b * C);
    }
    return { pixels, ids, labels };
  };

  const saveCheckpoint = async (step: number) => {
    const sd: StateDict = new Map();
    for (const [k, p] of trainer.params) sd.set(k, { dtype: 'float32', shape: p.dims, data: Float32Array.from(p.data) });
    for (const [k, m] of trainer.adam.m) sd.set(`adam.m.${k}`, { dtype: 'float32', shape: [m.length], data: Float32Array.from(m) });
    for (const [k, v] of trainer.adam.v) sd.set(`adam.v.${k}`, { dtype: 'float32', shape: [v.length], data: Float32Array.from(v) });
    const options = Object.fromEntries(RESUME_KEYS.map((k) => [k, o[k] ?? null]));
    await atomic(ckptPath, writeSafetensors(sd, { metadata: { step: String(step), adam_step: String(trainer.adam.step), options: JSON.stringify(options) } }));
  };
  const writeMetrics = () => atomic(metricsPath, metrics.map((m) => JSON.stringify(m)).join('\n') + '\n');

  let lastVal: ValMetrics | null = null;
  const validate = async (step: number, epoch: number) => {
    if (!val) return;
    const B = o.batchSize;
    const m = val.data.rows.length;
    const D = src.cfg.embedDim;
    const img = new Float32Array(m * D);
    const txt = new Float32Array(m * D);
    for (let i = 0; i < m; i += B) {
      const order = Array.from({ length: B }, (_, k) => Math.min(i + k, m - 1)); // the last batch repeats its last row
      const pixels = new Float32Array(B * pixelsPer);
      const ids = new BigInt64Array(B * C);
      order.forEach((row, b) => {
        normalizeHwc(val.data.evalHwc[row]!, src.preprocess, pixels, b * pixelsPer);
        ids.set(val.ids.subarray(row * C, (row + 1) * C), b * C);
      });
      const f = await trainer.encode({ pixels, ids });
      const keep = Math.min(B, m - i);
      img.set((f.image as FloatArray).subarray(0, keep * D), i * D);
      txt.set((f.text as FloatArray).subarray(0, keep * D), i * D);
    }
    const scale = Math.exp(Number(trainer.params.get('logit_scale')!.data[0]));
    const bias = trainer.params.has('logit_bias') ? Number(trainer.params.get('logit_bias')!.data[0]) : 0;
    lastVal = { step, epoch, ...contrastiveMetrics(img, txt, D, scale, bias, o.loss) };
    // zero-shot AUROC when the validation rows carry a label: each class named by its label as the prompt
    const labels = val.data.rows.map((r) => r.record.label ?? '');
    const classes = [...new Set(labels)].sort();
    if (labels.every((l) => l !== '') && classes.length >= 2) {
      const prompts = new Float32Array(classes.length * D);
      const promptIds = tokenizer.tokenize(classes, C);
      for (let i = 0; i < classes.length; i += B) {
        const ids = new BigInt64Array(B * C);
        for (let b = 0; b < B; b++) {
          const c = Math.min(i + b, classes.length - 1);
          for (let j = 0; j < C; j++) ids[b * C + j] = BigInt(promptIds[c * C + j]!);
        }
        const f = await trainer.encode({ pixels: new Float32Array(B * pixelsPer), ids });
        prompts.set((f.text as FloatArray).subarray(0, Math.min(B, classes.length - i) * D), i * D);
      }
      lastVal.zero_shot_auroc = zeroShotAuroc(img, prompts, D, labels.map((l) => classes.indexOf(l)), classes.length);
    }
    metrics.push(lastVal);
  };

  let lastLoss = NaN;
  let lastScale = NaN;
  for (let step = start; step < totalSteps; step++) {
    const epoch = Math.floor(step / stepsPerEpoch);
    const order = epochOrder(n, epoch, o.seed, o.shuffle);
    const within = step % stepsPerEpoch;
    const micro = Array.from({ length: o.accum }, (_, j) => batchOf(order, (within * o.accum + j) * o.batchSize, step));
    const t = Date.now();
    const r = await trainer.step(step, micro);
    const loss = r.losses.reduce((a, b) => a + b, 0) / r.losses.length;
    lastLoss = loss;
    lastScale = r.logitScale;
    const m: StepMetrics = { step, epoch, loss, lr: r.lr, logit_scale: r.logitScale, images_per_s: (perStep * 1000) / Math.max(1, Date.now() - t) };
    metrics.push(m);
    hooks.step?.(m, totalSteps);
    const endOfEpoch = (step + 1) % stepsPerEpoch === 0 || step + 1 === totalSteps;
    if (endOfEpoch) await validate(step + 1, epoch);
    if (endOfEpoch || (step + 1) % o.saveEvery === 0) {
      await writeMetrics();
      await saveCheckpoint(step + 1);
    }
  }
  if (start >= totalSteps) log(`the checkpoint is already at step ${start} of ${totalSteps}`);

  // the trained model, in open_clip's layout
  const sd = trainer.stateDict();
  await atomic(join(o.out, 'open_clip_model.safetensors'), writeSafetensors(sd));
  // the same tensors as torch.save writes them: open_clip v2.24.0 reads weights with torch.load only
  await atomic(join(o.out, 'open_clip_pytorch_model.bin'), writeTorchZip(sd));
  const preprocess_cfg = { mean: src.preprocess.mean, std: src.preprocess.std, interpolation: src.preprocess.interpolation, resize_mode: src.preprocess.resizeMode, ...src.preprocessCfg };
  await atomic(join(o.out, 'open_clip_config.json'), JSON.stringify({ model_cfg: src.modelCfg, preprocess_cfg }, null, 2) + '\n');
  await writeMetrics();
  await atomic(join(o.out, 'loss.svg'), lossPlotSvg(metrics));
  const parameters = [...trainer.params.values()].reduce((a, p) => a + p.data.length, 0);
  const trainable = trainer.trainable.reduce((a, k) => a + trainer.params.get(k)!.data.length, 0);
  await trainer.release();
  return {
    out: o.out,
    steps: totalSteps,
    epochs,
    resumedFrom: o.resume ? start : null,
    images: n,
    skipped: [...train.skipped, ...(val?.skipped ?? [])],
    parameters,
    trainable,
    finalLoss: lastLoss,
    logitScale: lastScale,
    val: lastVal,
    seconds: (Date.now() - t0) / 1000,
  };
}

function restore(trainer: ClipTrainer, sd: StateDict, adamStep: number): void {
  for (const [k, p] of trainer.params) {
    const t = sd.get(k);
    if (!t || t.data.length !== p.data.length) throw new ConfigError(`the checkpoint has no parameter '${k}' of ${p.data.length} values`);
    p.data.set(t.data as Float32Array);
  }
  trainer.adam.step = adamStep;
  for (const [k, t] of sd) {
    const m = /^adam\.([mv])\.(.*)$/.exec(k);
    if (!m) continue;
    const p = trainer.params.get(m[2]!);
    if (!p) throw new ConfigError(`the checkpoint has optimiser state for an unknown parameter '${m[2]}'`);
    const arr = p.data instanceof Float64Array ? Float64Array.from(t.data as Float32Array) : Float32Array.from(t.data as Float32Array);
    (m[1] === 'm' ? trainer.adam.m : trainer.adam.v).set(m[2]!, arr);
  }
}
