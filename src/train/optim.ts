// Optimisation as open_clip's training script does it: torch.optim.AdamW (PyTorch 1.13 `_single_tensor_adamw`),
// the parameter groups of open_clip `training/main.py` (no weight decay on gains and biases), the learning
// rate schedules of `training/scheduler.py`, and `torch.nn.utils.clip_grad_norm_`.

export type FloatArray = Float32Array | Float64Array;

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.2 };

/**
 * open_clip's rule: weight decay only on parameters with 2 or more dims whose name has none of bn, ln, bias,
 * logit_scale.
 * @example decays('visual.transformer.resblocks.0.ln_1.weight', [64]) // false
 */
export function decays(name: string, dims: number[]): boolean {
  return !(dims.length < 2 || name.includes('bn') || name.includes('ln') || name.includes('bias') || name.includes('logit_scale'));
}

export interface AdamWState {
  step: number;
  m: Map<string, FloatArray>;
  v: Map<string, FloatArray>;
}

export function newAdamWState(): AdamWState {
  return { step: 0, m: new Map(), v: new Map() };
}

/** One AdamW step over every parameter that has a gradient, in place. */
export function adamwStep(
  params: Map<string, { data: FloatArray; dims: number[] }>,
  grads: Map<string, FloatArray>,
  state: AdamWState,
  lr: number,
  o: AdamWOptions,
): void {
  state.step += 1;
  const bc1 = 1 - o.beta1 ** state.step;
  const bc2Sqrt = Math.sqrt(1 - o.beta2 ** state.step);
  const stepSize = lr / bc1;
  for (const [name, g] of grads) {
    const p = params.get(name)!;
    const w = p.data;
    let m = state.m.get(name);
    let v = state.v.get(name);
    if (!m || !v) {
      m = new (w.constructor as { new (n: number): FloatArray })(w.length);
      v = new (w.constructor as { new (n: number): FloatArray })(w.length);
      state.m.set(name, m);
      state.v.set(name, v);
    }
    const decay = decays(name, p.dims) ? 1 - lr * o.weightDecay : 1;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      const mi = o.beta1 * m[i]! + (1 - o.beta1) * gi;
      const vi = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      w[i] = w[i]! * decay - stepSize * (mi / (Math.sqrt(vi) / bc2Sqrt + o.eps));
    }
  }
}

/** torch.nn.utils.clip_grad_norm_ (norm 2): scales every gradient by min(1, max / (total + 1e-6)). Returns the total norm. */
export function clipGradNorm(grads: Map<string, FloatArray>, maxNorm: number): number {
  let sq = 0;
  for (const g of grads.values()) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    sq += s;
  }
  const total = Math.sqrt(sq);
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
  return total;
}

export type Schedule = 'cosine' | 'const';

/**
 * The learning rate at 0-based `step` of `total` (open_clip `cosine_lr` / `const_lr`): linear warm-up
 * lr * (step + 1) / warmup, then cosine decay to 0 or constant.
 * @example learningRate('cosine', 1e-3, 2, 10, 0) // 0.0005
 */
export function learningRate(schedule: Schedule, base: number, warmup: number, total: number, step: number): number {
  if (step < warmup) return (base * (step + 1)) / warmup;
  if (schedule === 'const') return base;
  const e = step - warmup;
  const es = total - warmup;
  return 0.5 * (1 + Math.cos((Math.PI * e) / es)) * base;
}

/** open_clip clamps the temperature to [0, ln 100] after every optimiser step. */
export const LOGIT_SCALE_MAX = Math.log(100);
