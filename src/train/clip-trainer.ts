// The training step of open_clip `training/train.py` (train_one_epoch) on clipmed's graphs: gradients from
// one ONNX graph per step shape, AdamW on the host, clipping, gradient accumulation with cached features,
// and the logit_scale clamp after each step.
import type { StateDict } from '../checkpoint/types.ts';
import { ConfigError } from '../errors.ts';
import type { FloatType } from '../graph/ir.ts';
import type { ClipConfig } from '../models/clip-config.ts';
import { buildTextGraph, buildVisionGraph } from '../models/clip-towers.ts';
import { Weights } from '../models/weights.ts';
import { trainRunner, type GraphRunner, type HostTensor, type RunnerFactory } from './runner.ts';
import { adamwStep, clipGradNorm, learningRate, LOGIT_SCALE_MAX, newAdamWState, type AdamWOptions, type AdamWState, type FloatArray, type Schedule } from './optim.ts';
import { buildTrainGraph, type LossKind } from './train-graph.ts';

/** Buffers that are not trained even when a checkpoint carries them. */
const BUFFERS = new Set(['attn_mask', 'input_resolution', 'context_length', 'vocab_size']);

export interface TrainerOptions extends AdamWOptions {
  cfg: ClipConfig;
  /** initial weights (open_clip key layout), with logit_scale and, for SigLIP, logit_bias */
  weights: StateDict;
  loss: LossKind;
  batchSize: number;
  /** float32 for training; float64 for checks against a reference */
  float?: FloatType;
  lr: number;
  warmup: number;
  schedule: Schedule;
  totalSteps: number;
  gradClip?: number;
  /** micro-batches per optimiser step (open_clip --accum-freq) */
  accum?: number;
  lockImage?: boolean;
  lockText?: boolean;
  threads?: number;
  /** what runs the graphs (default: the platform's registered runner, onnxruntime-node on Node) */
  runner?: RunnerFactory;
}

export interface Batch {
  /** [batch, 3, size, size] */
  pixels: Float32Array;
  /** [batch, context_length] */
  ids: BigInt64Array;
  /** [batch, classes] label vectors (1 positive, 0 negative, -1 uncertain), for the MedCLIP loss */
  labels?: Float32Array;
}

/**
 * MedCLIP's soft targets for rows whose label vectors are `labels` ([n, k]): softmax over each row of
 * S = L L^T (image -> texts), and softmax over each column (text -> images), both laid out [image, text].
 */
export function medclipTargets(labels: Float32Array, n: number): { image: Float64Array; text: Float64Array } {
  const k = labels.length / n;
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let v = 0;
    for (let c = 0; c < k; c++) v += labels[i * k + c]! * labels[j * k + c]!;
    s[i * n + j] = v;
  }
  const image = new Float64Array(n * n);
  const text = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    let mr = -Infinity;
    let mc = -Infinity;
    for (let j = 0; j < n; j++) {
      mr = Math.max(mr, s[i * n + j]!);
      mc = Math.max(mc, s[j * n + i]!);
    }
    let zr = 0;
    let zc = 0;
    for (let j = 0; j < n; j++) {
      zr += Math.exp(s[i * n + j]! - mr);
      zc += Math.exp(s[j * n + i]! - mc);
    }
    for (let j = 0; j < n; j++) {
      image[i * n + j] = Math.exp(s[i * n + j]! - mr) / zr;
      text[j * n + i] = Math.exp(s[j * n + i]! - mc) / zc; // column i of S, softmaxed, stays column i
    }
  }
  return { image, text };
}

export interface StepResult {
  /** the loss of each micro-batch's forward pass */
  losses: number[];
  lr: number;
  /** exp(logit_scale) used by this step (before the clamp) */
  logitScale: number;
  gradNorm: number;
}

export interface TrainerSnapshot {
  params: Map<string, { data: FloatArray; dims: number[] }>;
  adam: AdamWState;
}

export class ClipTrainer {
  readonly params = new Map<string, { data: FloatArray; dims: number[] }>();
  adam: AdamWState = newAdamWState();
  private constructor(
    readonly o: TrainerOptions,
    private readonly step1: GraphRunner,
    private readonly stepAccum: GraphRunner | null,
    private readonly features: GraphRunner,
    readonly trainable: string[],
    private readonly gradNames: Map<string, string>,
    private readonly paramNames: string[],
  ) {}

  get float(): FloatType {
    return this.o.float ?? 'float32';
  }

  static async create(o: TrainerOptions): Promise<ClipTrainer> {
    const float = o.float ?? 'float32';
    const accum = o.accum ?? 1;
    if (!Number.isInteger(accum) || accum < 1) throw new ConfigError(`accum must be a positive integer, got ${accum}`);
    const w = new Weights(o.weights, 'weights');
    const vision = buildVisionGraph(o.cfg, w).bytes;
    const text = buildTextGraph(o.cfg, w, '', { allTokens: o.loss === 'gloria' }).bytes; // GLoRIA's loss reads every token's features
    w.ignore('logit_scale', 'logit_bias', ...BUFFERS);
    w.finish(['']);
    const shapes = new Map<string, number[]>();
    for (const [k, t] of o.weights) if (t.data instanceof Float32Array && !BUFFERS.has(k)) shapes.set(k, t.shape);
    if (!shapes.has('logit_scale')) throw new ConfigError('the weights have no logit_scale');
    const isText = (k: string) => !k.startsWith('visual.') && k !== 'logit_scale' && k !== 'logit_bias';
    const trainable = [...shapes.keys()].filter((k) => !(o.lockImage && k.startsWith('visual.')) && !(o.lockText && isText(k)));
    const common = { vision, text, params: shapes, trainable, batch: o.batchSize, imageSize: o.cfg.vision.imageSize, contextLength: o.cfg.text.contextLength, loss: o.loss, float };
    const g1 = buildTrainGraph(common);
    const threads = o.threads;
    const createRunner = o.runner ?? trainRunner();
    const step1 = await createRunner(g1.step, threads);
    const features = await createRunner(g1.features, threads);
    let stepAccum: GraphRunner | null = null;
    if (accum > 1) stepAccum = await createRunner(buildTrainGraph({ ...common, cachedRows: (accum - 1) * o.batchSize }).step, threads);
    const t = new ClipTrainer(o, step1, stepAccum, features, [...g1.grads.keys()], g1.grads, g1.params);
    const Arr = float === 'float64' ? Float64Array : Float32Array;
    for (const name of g1.params) {
      const src = o.weights.get(name)!;
      t.params.set(name, { data: Arr.from(src.data as Float32Array), dims: [...src.shape] });
    }
    return t;
  }

  private feeds(b: Batch): Record<string, HostTensor> {
    const { batchSize: B } = this.o;
    const S = this.o.cfg.vision.imageSize;
    const pixels = this.float === 'float64' ? Float64Array.from(b.pixels) : b.pixels;
    const f: Record<string, HostTensor> = {
      pixel_values: { data: pixels, dims: [B, 3, S, S] },
      input_ids: { data: b.ids, dims: [B, this.o.cfg.text.contextLength] },
    };
    for (const name of this.paramNames) {
      const p = this.params.get(name)!;
      f[name] = { data: p.data, dims: p.dims };
    }
    if (this.o.loss === 'gloria') {
      // the words of each text: the tokens after the start token and before the end token (the highest id)
      const C = this.o.cfg.text.contextLength;
      const mask = new (this.float === 'float64' ? Float64Array : Float32Array)(B * C);
      for (let r = 0; r < B; r++) {
        let end = 0;
        for (let j = 1; j < C; j++) if (b.ids[r * C + j]! > b.ids[r * C + end]!) end = j;
        for (let j = 1; j < end; j++) mask[r * C + j] = 1;
      }
      f.word_mask = { data: mask, dims: [B, C] };
    }
    return f;
  }

  /** Normalised features of one batch with the current weights: [batch, embed] each. */
  async encode(b: Batch): Promise<{ image: FloatArray; text: FloatArray }> {
    const r = await this.features.run(this.feeds(b));
    return { image: r.image_features!.data as FloatArray, text: r.text_features!.data as FloatArray };
  }

  /** One optimiser step (0-based `step` for the schedule) over `accum` micro-batches. */
  async step(step: number, micro: Batch[]): Promise<StepResult> {
    const accum = this.o.accum ?? 1;
    if (micro.length !== accum) throw new ConfigError(`a step takes ${accum} micro-batches, got ${micro.length}`);
    const lr = learningRate(this.o.schedule, this.o.lr, this.o.warmup, this.o.totalSteps, step);
    const logitScale = Math.exp(Number(this.params.get('logit_scale')!.data[0]));
    const grads = new Map<string, FloatArray>();
    const losses: number[] = [];
    const addGrads = (r: Record<string, HostTensor>) => {
      for (const [p, out] of this.gradNames) {
        const g = r[out]!.data as FloatArray;
        const acc = grads.get(p);
        if (!acc) grads.set(p, g.slice());
        else for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]!;
      }
    };
    const targets = (rowsLabels: Float32Array[], f: Record<string, HostTensor>) => {
      if (this.o.loss !== 'medclip') return;
      const all = new Float32Array(rowsLabels.reduce((n, l) => n + l.length, 0));
      let off = 0;
      for (const l of rowsLabels) {
        all.set(l, off);
        off += l.length;
      }
      const n = this.o.batchSize * rowsLabels.length;
      const t = medclipTargets(all, n);
      const cast = (a: Float64Array) => (this.float === 'float64' ? a : Float32Array.from(a));
      f.soft_targets_image = { data: cast(t.image), dims: [n, n] };
      f.soft_targets_text = { data: cast(t.text), dims: [n, n] };
    };
    const labelsOf = (b: Batch) => {
      if (!b.labels) throw new ConfigError('the MedCLIP loss needs label vectors for every batch');
      return b.labels;
    };
    if (accum === 1) {
      const f1 = this.feeds(micro[0]!);
      if (this.o.loss === 'medclip') targets([labelsOf(micro[0]!)], f1);
      const r = await this.step1.run(f1);
      losses.push(Number(r.loss!.data[0]));
      addGrads(r);
    } else {
      // open_clip: features of every micro-batch without gradients, then for each micro-batch a forward and
      // backward pass whose loss sees the cached features of the others as negatives
      const cached = [];
      for (const b of micro) cached.push(await this.encode(b));
      const D = cached[0]!.image.length / this.o.batchSize;
      for (let j = 0; j < accum; j++) {
        const others = cached.filter((_, k) => k !== j);
        const cat = (key: 'image' | 'text') => {
          const out = new (this.float === 'float64' ? Float64Array : Float32Array)(others.length * this.o.batchSize * D);
          others.forEach((c, k) => out.set(c[key], k * c[key].length));
          return out;
        };
        const f = this.feeds(micro[j]!);
        if (this.o.loss === 'medclip') targets([micro[j]!, ...micro.filter((_, k) => k !== j)].map(labelsOf), f);
        f.cached_image_features = { data: cat('image'), dims: [others.length * this.o.batchSize, D] };
        f.cached_text_features = { data: cat('text'), dims: [others.length * this.o.batchSize, D] };
        const r = await this.stepAccum!.run(f);
        losses.push(Number(r.loss!.data[0]));
        addGrads(r);
      }
    }
    const gradNorm = this.o.gradClip !== undefined ? clipGradNorm(grads, this.o.gradClip) : NaN;
    adamwStep(this.params, grads, this.adam, lr, this.o);
    const s = this.params.get('logit_scale')!.data;
    s[0] = Math.min(Math.max(s[0]!, 0), LOGIT_SCALE_MAX);
    return { losses, lr, logitScale, gradNorm };
  }

  /** The current weights as a float32 state dict in the checkpoint's key order. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [k, t] of this.o.weights) {
      const p = this.params.get(k);
      out.set(k, p ? { dtype: 'float32', shape: p.dims, data: Float32Array.from(p.data) } : t);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.step1.release();
    await this.features.release();
    await this.stepAccum?.release();
  }
}
