// open_clip's initialisation of a CLIP with its own ViT and text transformer (open_clip v2.24.0 `model.py` CLIP,
// `transformer.py` VisionTransformer.__init__ and TextTransformer.init_parameters), drawn from a seeded
// generator: the same distributions as PyTorch's, not the same numbers.
//   vision: conv1 and nn.Linear weights/biases U(+-1/sqrt(fan_in)) (PyTorch defaults), in_proj_weight
//           xavier_uniform, in_proj_bias and out_proj.bias 0, class/positional embedding and proj
//           width^-0.5 * N(0, 1), LayerNorm 1/0
//   text:   token_embedding N(0, 0.02), positional_embedding N(0, 0.01), in_proj_weight N(0, width^-0.5),
//           out_proj / c_proj weights N(0, width^-0.5 (2 layers)^-0.5), c_fc weight N(0, (2 width)^-0.5),
//           text_projection N(0, width^-0.5); biases as in the vision tower
//   logit_scale = init_logit_scale (ln(1/0.07)), logit_bias = init_logit_bias when the config sets one
import type { StateDict, Tensor } from '../checkpoint/types.ts';
import { gaussian, mulberry32 } from '../eval/prng.ts';
import type { ClipConfig } from '../models/clip-config.ts';
import { UnsupportedError } from '../errors.ts';

export interface InitOptions {
  initLogitScale?: number;
  initLogitBias?: number;
}

/**
 * A freshly initialised state dict in open_clip's key layout.
 * @example openClipInit(cfg, 0).get('logit_scale')!.data[0] // 2.6592600345611572
 */
export function openClipInit(cfg: ClipConfig, seed: number, o: InitOptions = {}): StateDict {
  if (cfg.vision.layerScale || cfg.text.layerScale || cfg.text.projBias) {
    throw new UnsupportedError('initialisation from a config: layer scale (ls_init_value) and a text projection bias are not supported yet');
  }
  const rng = mulberry32(seed);
  const sd: StateDict = new Map();
  const put = (key: string, shape: number[], f: (i: number) => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = f(i);
    sd.set(key, { dtype: 'float32', shape, data } satisfies Tensor);
  };
  const normal = (std: number) => () => std * gaussian(rng);
  const uniform = (bound: number) => () => bound * (2 * rng() - 1);
  const fill = (v: number) => () => v;

  const v = cfg.vision;
  const t = cfg.text;
  const grid = v.imageSize / v.patchSize;
  const vs = v.width ** -0.5;
  const block = (p: string, width: number, mlpWidth: number, text: boolean, layers: number) => {
    put(`${p}.ln_1.weight`, [width], fill(1));
    put(`${p}.ln_1.bias`, [width], fill(0));
    const projStd = width ** -0.5 * (2 * layers) ** -0.5;
    put(`${p}.attn.in_proj_weight`, [3 * width, width], text ? normal(width ** -0.5) : uniform(Math.sqrt(6 / (width + 3 * width))));
    put(`${p}.attn.in_proj_bias`, [3 * width], fill(0));
    put(`${p}.attn.out_proj.weight`, [width, width], text ? normal(projStd) : uniform(1 / Math.sqrt(width)));
    put(`${p}.attn.out_proj.bias`, [width], fill(0));
    put(`${p}.ln_2.weight`, [width], fill(1));
    put(`${p}.ln_2.bias`, [width], fill(0));
    put(`${p}.mlp.c_fc.weight`, [mlpWidth, width], text ? normal((2 * width) ** -0.5) : uniform(1 / Math.sqrt(width)));
    put(`${p}.mlp.c_fc.bias`, [mlpWidth], uniform(1 / Math.sqrt(width)));
    put(`${p}.mlp.c_proj.weight`, [width, mlpWidth], text ? normal(projStd) : uniform(1 / Math.sqrt(mlpWidth)));
    put(`${p}.mlp.c_proj.bias`, [width], uniform(1 / Math.sqrt(mlpWidth)));
  };
  put('visual.class_embedding', [v.width], normal(vs));
  put('visual.positional_embedding', [grid * grid + 1, v.width], normal(vs));
  put('visual.proj', [v.width, cfg.embedDim], normal(vs));
  put('visual.conv1.weight', [v.width, 3, v.patchSize, v.patchSize], uniform(1 / Math.sqrt(3 * v.patchSize * v.patchSize)));
  if (v.lnPre) {
    put('visual.ln_pre.weight', [v.width], fill(1));
    put('visual.ln_pre.bias', [v.width], fill(0));
  }
  for (let i = 0; i < v.layers; i++) block(`visual.transformer.resblocks.${i}`, v.width, Math.round(v.width * v.mlpRatio), false, v.layers);
  put('visual.ln_post.weight', [v.width], fill(1));
  put('visual.ln_post.bias', [v.width], fill(0));
  put('token_embedding.weight', [t.vocabSize, t.width], normal(0.02));
  put('positional_embedding', [t.contextLength, t.width], normal(0.01));
  for (let i = 0; i < t.layers; i++) block(`transformer.resblocks.${i}`, t.width, Math.round(t.width * t.mlpRatio), true, t.layers);
  put('ln_final.weight', [t.width], fill(1));
  put('ln_final.bias', [t.width], fill(0));
  put('text_projection', [t.width, cfg.embedDim], normal(t.width ** -0.5));
  put('logit_scale', [], fill(o.initLogitScale ?? Math.log(1 / 0.07)));
  if (o.initLogitBias !== undefined) put('logit_bias', [], fill(o.initLogitBias));
  return sd;
}
