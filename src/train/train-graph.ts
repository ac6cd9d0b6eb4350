// One ONNX graph for a CLIP training step: both towers (as the builder emits them for inference), the
// contrastive loss, and the backward pass to every trainable parameter. Parameters are graph inputs named
// as the checkpoint's tensors, so each step feeds the current weights; outputs are `loss`, the normalised
// features and `grad:<parameter>` for each trainable parameter.
// Losses follow open_clip v2.24.0 `loss.py`: ClipLoss (symmetric cross-entropy over
// logit_scale.exp() * img @ txt^T, labels on the diagonal) and SigLipLoss
// (-sum(logsigmoid(labels * (scale * img @ txt^T + bias))) / batch, labels 2 * eye - 1); and MedCLIP's
// semantic matching loss (Wang et al. 2022, RyanWangZf/MedCLIP `modeling_medclip.py` _soft_clip_loss): soft
// cross-entropy of both directions against softmax(label similarity), the targets fed as inputs
// `soft_targets_image` (softmax over texts of img_labels @ text_labels^T) and `soft_targets_text` (softmax over
// images, laid out [image, text] like the logits); and `gloria`: the CLIP loss plus a GLoRIA-style local loss
// (Huang et al. 2021, "GLoRIA: A Multimodal Global-Local Representation Learning Framework"), see localLogits.
import { ConfigError } from '../errors.ts';
import { appendLowered, differentiate } from '../graph/autodiff.ts';
import { IrEmitter } from '../graph/ir-emitter.ts';
import { emitModel, parseModel, type FloatType, type IrGraph, type IrNode, type ValueInfo } from '../graph/ir.ts';

export type LossKind = 'clip' | 'siglip' | 'medclip' | 'gloria';

export interface TrainGraphOptions {
  /** the inference graphs of the two towers (GraphBuilder bytes) */
  vision: Uint8Array;
  text: Uint8Array;
  /** every checkpoint tensor the towers use, with its shape (these become graph inputs) */
  params: Map<string, number[]>;
  /** the parameters that get gradients */
  trainable: string[];
  batch: number;
  imageSize: number;
  contextLength: number;
  loss: LossKind;
  float: FloatType;
  /** rows of cached features from the other micro-batches of an accumulation step (open_clip accum_freq) */
  cachedRows?: number;
}

export interface TrainGraph {
  /** forward + loss + backward; inputs: pixel_values, input_ids, parameters, logit_scale[, logit_bias][, cached_*] */
  step: Uint8Array;
  /** forward only; outputs image_features and text_features (normalised) */
  features: Uint8Array;
  /** gradient output name of each trainable parameter */
  grads: Map<string, string>;
  embedDim: number;
  /** the parameters the graphs use (graph inputs named as the checkpoint's tensors) */
  params: string[];
}

/** Copy `src`'s nodes into `dst` with every non-parameter name under `prefix`; `.T` weights become Transposes. */
function merge(em: IrEmitter, src: IrGraph, prefix: string, params: Map<string, number[]>, keep: Set<string>, used: Set<string>): (name: string) => string {
  for (const n of src.nodes) for (const i of n.inputs) if (params.has(i)) used.add(i);
  for (const name of src.inits.keys()) if (params.has(name)) used.add(name);
  const rename = (n: string) => (n === '' || keep.has(n) || params.has(n) ? n : `${prefix}${n}`);
  const nodes: IrNode[] = [];
  for (const [name, t] of src.inits) {
    if (params.has(name)) continue;
    // a torch Linear weight taken transposed at conversion: in training the [out, in] tensor is the parameter
    if (name.endsWith('.T') && params.has(name.slice(0, -2))) {
      used.add(name.slice(0, -2));
      nodes.push({ op: 'Transpose', domain: '', inputs: [name.slice(0, -2)], outputs: [rename(name)], attrs: { perm: { kind: 'ints', value: [1, 0] } } });
      continue;
    }
    em.g.inits.set(rename(name), t);
    em.info.set(rename(name), { dtype: t.dtype, dims: t.dims, constant: t.dtype !== 'float' && t.data.length <= 4096 ? Array.from(t.data) : undefined });
  }
  for (const n of nodes) em.push(n);
  appendLowered(em, src.nodes.map((n) => ({ ...n, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename) })));
  for (const d of src.domains) if (d !== 'com.microsoft') em.g.domains.add(d);
  return rename;
}

/** Drop nodes, initializers and inputs that no output needs. */
function prune(g: IrGraph): IrGraph {
  const live = new Set(g.outputs);
  const nodes: IrNode[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((o) => live.has(o))) continue;
    nodes.push(n);
    for (const x of n.inputs) if (x) live.add(x);
  }
  nodes.reverse();
  return {
    ...g,
    nodes,
    inits: new Map([...g.inits].filter(([k]) => live.has(k))),
    inputs: g.inputs.filter((i) => live.has(i.name)),
  };
}

export function buildTrainGraph(o: TrainGraphOptions): TrainGraph {
  const vision = parseModel(o.vision);
  const text = parseModel(o.text);
  const g: IrGraph = { name: 'clip_train', nodes: [], inits: new Map(), inputs: [], outputs: [], domains: new Set() };
  const info = new Map<string, ValueInfo>();
  const em = new IrEmitter(g, info);
  const addInput = (name: string, dtype: 'float' | 'int64', dims: number[]) => {
    g.inputs.push({ name, dtype, dims });
    info.set(name, { dtype, dims });
  };
  addInput('pixel_values', 'float', [o.batch, 3, o.imageSize, o.imageSize]);
  addInput('input_ids', 'int64', [o.batch, o.contextLength]);
  const params = new Map(o.params);
  if (!params.has('logit_scale')) params.set('logit_scale', []);
  if (o.loss === 'siglip' && !params.has('logit_bias')) throw new ConfigError('the SigLIP loss needs a logit_bias parameter (open_clip init_logit_bias)');
  for (const [name, dims] of params) addInput(name, 'float', dims);
  for (const t of o.trainable) if (!params.has(t)) throw new ConfigError(`trainable parameter '${t}' is not a parameter of the model`);
  const keep = new Set(['pixel_values', 'input_ids']);
  const used = new Set<string>(['logit_scale', ...(o.loss === 'siglip' ? ['logit_bias'] : [])]);
  const rv = merge(em, vision, 'v/', params, keep, used);
  const rt = merge(em, text, 't/', params, keep, used);
  const trainable = o.trainable.filter((t) => used.has(t));
  const img = rv('image_embeds');
  const txt = rt('text_embeds');
  const embedDim = em.dims(img)[1]!;

  // F.normalize(x, dim=-1): x / ||x||
  const normalize = (x: string, out: string) => em.op('Div', [x, em.op('Sqrt', [em.reduceSum(em.mul(x, x), [1], 1)])], {}, out);
  let fi = normalize(img, 'image_features'); // [B, D]
  let ft = normalize(txt, 'text_features'); // [B, D]
  g.outputs = ['image_features', 'text_features'];
  const features = emitModel(prune(g), info, o.float);

  const rows = o.batch + (o.cachedRows ?? 0);
  if (o.cachedRows) {
    addInput('cached_image_features', 'float', [o.cachedRows, embedDim]);
    addInput('cached_text_features', 'float', [o.cachedRows, embedDim]);
    fi = em.op('Concat', [fi, 'cached_image_features'], { axis: 0 }); // [N, D]
    ft = em.op('Concat', [ft, 'cached_text_features'], { axis: 0 }); // [N, D]
  }
  const eye = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) eye[i * rows + i] = 1;
  const logits = em.mul(em.matmul(fi, em.transpose(ft, [1, 0])), em.op('Exp', ['logit_scale'])); // [N, N] logits per image
  let loss: string;
  if (o.loss === 'gloria') {
    if (o.cachedRows) throw new ConfigError('the GLoRIA local loss does not support gradient accumulation');
    const words = wordEmbeds(em, text, rt, params);
    addInput('word_mask', 'float', [o.batch, o.contextLength]);
    const local = localLogits(em, rv('patch_embeds'), words, 'word_mask');
    loss = em.add(clipLoss(em, logits, rows, eye), clipLoss(em, local, rows, eye));
  } else if (o.loss === 'medclip') {
    addInput('soft_targets_image', 'float', [rows, rows]);
    addInput('soft_targets_text', 'float', [rows, rows]);
    const img = em.op('ReduceSum', [em.mul('soft_targets_image', em.op('LogSoftmax', [logits], { axis: 1 }))], { keepdims: 0 });
    const txt = em.op('ReduceSum', [em.mul('soft_targets_text', em.op('LogSoftmax', [logits], { axis: 0 }))], { keepdims: 0 });
    loss = em.div(em.neg(em.add(img, txt)), em.scalar(2 * rows));
  } else if (o.loss === 'clip') {
    const diag = em.floats(eye, [rows, rows], 'eye');
    // mean cross-entropy of the rows (images -> texts) and of the columns (texts -> images), averaged
    const both = em.add(em.op('LogSoftmax', [logits], { axis: 1 }), em.op('LogSoftmax', [logits], { axis: 0 }));
    loss = em.div(em.neg(em.op('ReduceSum', [em.mul(both, diag)], { keepdims: 0 })), em.scalar(2 * rows));
  } else {
    const labels = em.floats(eye.map((v) => 2 * v - 1), [rows, rows], 'labels');
    const z = em.mul(em.add(logits, 'logit_bias'), labels);
    // logsigmoid(z) = min(z, 0) - log(1 + exp(-|z|)), stable for either sign
    const logsig = em.sub(em.op('Min', [z, em.scalar(0)]), em.op('Log', [em.add(em.scalar(1), em.op('Exp', [em.neg(em.op('Abs', [z]))]))]));
    loss = em.div(em.neg(em.op('ReduceSum', [logsig], { keepdims: 0 })), em.scalar(rows));
  }
  em.op('Identity', [loss], {}, 'loss');
  const grads = differentiate(em, 'loss', trainable);
  const gradNames = new Map<string, string>();
  for (const [p, gname] of grads) {
    const out = `grad:${p}`;
    em.op('Identity', [gname], {}, out);
    gradNames.set(p, out);
  }
  g.outputs = ['loss', 'image_features', 'text_features', ...gradNames.values()];
  const usedParams = [...o.params.keys(), 'logit_scale', 'logit_bias'].filter((p, i, all) => used.has(p) && all.indexOf(p) === i);
  return { step: emitModel(prune(g), info, o.float), features, grads: gradNames, embedDim, params: usedParams };
}


/** open_clip ClipLoss on [N, N] logits: mean cross-entropy of rows and columns against the diagonal, averaged. */
function clipLoss(em: IrEmitter, logits: string, rows: number, eye: Float64Array): string {
  const diag = em.floats(eye, [rows, rows], 'eye');
  const both = em.add(em.op('LogSoftmax', [logits], { axis: 1 }), em.op('LogSoftmax', [logits], { axis: 0 }));
  return em.div(em.neg(em.op('ReduceSum', [em.mul(both, diag)], { keepdims: 0 })), em.scalar(2 * rows));
}

/** The text tower's token features in the joint space: ln_final's output [B, T, width] @ text_projection. */
function wordEmbeds(em: IrEmitter, text: IrGraph, rename: (n: string) => string, params: Map<string, number[]>): string {
  const ln = text.nodes.find((n) => n.op === 'LayerNormalization' && n.inputs[1] === 'ln_final.weight');
  if (!ln || !params.has('text_projection')) throw new ConfigError('the GLoRIA loss needs an open_clip text transformer (ln_final, text_projection without bias)');
  return em.matmul(rename(ln.outputs[0]!), 'text_projection'); // [B, T, D]
}

const unit = (em: IrEmitter, x: string) => em.div(x, em.op('Sqrt', [em.reduceSum(em.mul(x, x), [-1], 1)]));

/**
 * GLoRIA-style local similarity of every image i with every text j, as [images, texts] logits:
 * each word attends over the image's patches, a_p = softmax_p(tau1 cos(w, v_p)); its context c = sum_p a_p v_p;
 * the pair's score is log(sum over the text's words of exp(tau2 cos(c, w))) / tau2, times tau3
 * (GLoRIA's temperatures 4, 5, 10). Words are the tokens between the start and end tokens (`mask`).
 */
function localLogits(em: IrEmitter, patches: string, words: string, mask: string): string {
  const [B, P, D] = em.dims(patches) as [number, number, number];
  const T = em.dims(words)[1]!;
  const v = unit(em, patches); // [B, P, D]
  const w = unit(em, words); // [B, T, D]
  const w1 = em.reshape(w, [1, B, T, D]); // texts j on axis 1
  const vT = em.reshape(em.transpose(v, [0, 2, 1]), [B, 1, D, P]); // images i on axis 0
  const attn = em.op('Softmax', [em.mul(em.matmul(w1, vT), em.scalar(4))], { axis: -1 }); // [B, B, T, P]
  const ctx = em.matmul(attn, em.reshape(v, [B, 1, P, D])); // [B, B, T, D]
  const cos = em.div(em.reduceSum(em.mul(ctx, w1), [-1], 0), em.op('Sqrt', [em.reduceSum(em.mul(ctx, ctx), [-1], 0)])); // [B, B, T]
  const summed = em.reduceSum(em.mul(em.op('Exp', [em.mul(cos, em.scalar(5))]), em.reshape(mask, [1, B, T])), [-1], 0); // [B, B]
  return em.mul(em.div(em.op('Log', [summed]), em.scalar(5)), em.scalar(10));
}
