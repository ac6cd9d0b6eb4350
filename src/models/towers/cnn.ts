// Pieces shared by the convolutional image towers (open_clip's ModifiedResNet, torchvision's ResNet):
// convolutions and eval-mode BatchNorm with the checkpoint's own parameter names, and the final feature
// map read out as region tokens. BatchNorm stays a graph op over the checkpoint's four tensors (weight, bias,
// running_mean, running_var); ONNX Runtime folds it into the preceding convolution when it optimises the
// session (its Conv+BatchNormalization fusion), so inference runs folded while the graph keeps the names
// that gradients and checkpoints out need.
import type { GraphBuilder, Value } from '../../graph/builder.ts';
import type { Weights } from '../weights.ts';

/** torch.nn.BatchNorm2d in eval mode over x [B, C, H, W]; `num_batches_tracked` is a counter, not a weight. */
export function batchNorm2d(g: GraphBuilder, w: Weights, x: Value, key: string, channels: number, eps = 1e-5): Value {
  w.ignore(`${key}.num_batches_tracked`);
  const p = (k: string) => w.param(g, `${key}.${k}`, [channels]);
  return g.batchNorm(x, p('weight'), p('bias'), p('running_mean'), p('running_var'), eps);
}

export interface ConvSpec {
  cin: number;
  cout: number;
  kernel: number;
  stride?: number;
  pad?: number;
  bias?: boolean;
}

/** torch.nn.Conv2d (weight [cout, cin, k, k]). */
export function conv2d(g: GraphBuilder, w: Weights, x: Value, key: string, s: ConvSpec): Value {
  const weight = w.param(g, `${key}.weight`, [s.cout, s.cin, s.kernel, s.kernel]);
  const bias = s.bias ? w.param(g, `${key}.bias`, [s.cout]) : null;
  return g.conv2d(x, weight, bias, { kernel: s.kernel, stride: s.stride, pad: s.pad });
}

/** A bias-free convolution followed by its BatchNorm, optionally a ReLU: the ResNet unit. */
export function convBn(g: GraphBuilder, w: Weights, x: Value, convKey: string, bnKey: string, s: ConvSpec, relu: boolean): Value {
  const y = batchNorm2d(g, w, conv2d(g, w, x, convKey, s), bnKey, s.cout);
  return relu ? g.relu(y) : y;
}

/** Spatial size after a convolution or pool: floor((n + 2 pad - kernel) / stride) + 1, as torch computes it. */
export function outSize(n: number, kernel: number, stride = 1, pad = 0): number {
  return Math.floor((n + 2 * pad - kernel) / stride) + 1;
}

/** The cells of a feature map as tokens: [B, C, H, W] -> [B, H*W, C], row-major over H, W. */
export function cellTokens(g: GraphBuilder, x: Value, channels: number, cells: number): Value {
  return g.transpose(g.reshape(x, [0, channels, cells]), [0, 2, 1]);
}
