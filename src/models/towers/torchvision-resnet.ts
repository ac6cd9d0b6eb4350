// torchvision's ResNet (torchvision 0.14 `models/resnet.py`, ResNet v1.5: the stride sits on the 3x3
// convolution) as an image tower, with the heads the medical models put on it. BioViL (hi-ml-multimodal
// `image/model/model.py` ImageModel) projects every cell of the final map with a 1x1-conv MLP and averages
// them; GLoRIA and ConVIRT use the same trunk (He et al. 2016, "Deep Residual Learning").
import { GraphBuilder, type BuiltGraph, type Value } from '../../graph/builder.ts';
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError } from '../../errors.ts';
import type { Weights } from '../weights.ts';
import { linear } from '../transformer.ts';
import { batchNorm2d, cellTokens, conv2d, convBn, outSize } from './cnn.ts';
import { vitPooler, type VitPoolerConfig } from './temporal-pooler.ts';

export type ResNetHead =
  /** no head: image_embeds = the average-pooled trunk features, patch_embeds = the cells */
  | { kind: 'pool' }
  /** hi-ml's MLP(use_1x1_convs): conv 1x1 (no bias) -> BatchNorm -> ReLU -> conv 1x1 on every cell, then the mean */
  | { kind: 'conv-mlp'; key: string; hidden: number; embedDim: number }
  /**
   * a Linear on the average-pooled features, as torchvision's own `fc` (MedCLIP-ResNet replaces it by
   * Linear(2048, 512, bias=False)); patch_embeds = the same Linear on every cell (their mean is image_embeds)
   */
  | { kind: 'linear'; key: string; embedDim: number; bias: boolean }
  /**
   * GLoRIA (marshuang80/gloria `models/vision_model.py` ImageEncoder): global_embedder (Linear) on the pooled
   * layer-4 features, local_embedder (1x1 conv, no bias) on the layer-3 map, whose cells are the region tokens
   */
  | { kind: 'gloria'; globalKey: string; localKey: string; embedDim: number };

export interface TorchvisionResNetConfig {
  /** Bottleneck blocks per stage: [3, 4, 6, 3] for ResNet-50 */
  layers: [number, number, number, number];
  /** torchvision's width_per_group (64): the inner width of the first stage */
  widthPerGroup: number;
  /** output channels per inner channel of a block: 4 for Bottleneck */
  expansion: number;
  imageSize: number;
  /** resize inside the graph to this square size first (GLoRIA: nn.Upsample(299, bilinear, align_corners=True)) */
  inputSize?: number;
  /** key prefix of the torchvision ResNet under the tower prefix ('encoder.encoder.' in hi-ml's ImageModel) */
  trunk: string;
  /**
   * BioViL-T's MultiImageEncoder (hi-ml `image/model/encoder.py`): the map through `backbone_to_vit` (1x1 conv
   * to `dim`, no bias), concatenated with the learned `missing_previous_emb` on a single image; with a previous
   * image (`buildTorchvisionResNetWithPrevious`), with the ViT pooler's comparison of the two (`pooler`).
   */
  neck?: { kind: 'missing-previous'; key: string; dim: number; pooler?: VitPoolerConfig };
  head: ResNetHead;
}

/** torchvision Bottleneck: 1x1 -> 3x3 (stride) -> 1x1, each with BatchNorm; downsample = 1x1 conv (stride) + BatchNorm. */
function bottleneck(g: GraphBuilder, w: Weights, x: Value, key: string, inplanes: number, planes: number, width: number, expansion: number, stride: number): Value {
  const k = (s: string) => `${key}.${s}`;
  let out = convBn(g, w, x, k('conv1'), k('bn1'), { cin: inplanes, cout: width, kernel: 1 }, true);
  out = convBn(g, w, out, k('conv2'), k('bn2'), { cin: width, cout: width, kernel: 3, stride, pad: 1 }, true);
  out = convBn(g, w, out, k('conv3'), k('bn3'), { cin: width, cout: planes * expansion, kernel: 1 }, false);
  const identity = stride !== 1 || inplanes !== planes * expansion
    ? convBn(g, w, x, k('downsample.0'), k('downsample.1'), { cin: inplanes, cout: planes * expansion, kernel: 1, stride }, false)
    : x;
  return g.relu(g.add(out, identity));
}

/**
 * Inputs: `pixel_values` [batch, 3, S, S] with S = `imageSize`.
 * Outputs: `image_embeds` [batch, embed] (BioViL: `projected_global_embedding`), `patch_tokens` [batch, cells,
 * channels] (the final feature map's cells, row-major) and `patch_embeds` [batch, cells, embed] (BioViL:
 * `projected_patch_embeddings`).
 */
export function buildTorchvisionResNet(cfg: TorchvisionResNetConfig, w: Weights, prefix = ''): BuiltGraph {
  return buildResNet(cfg, w, prefix, false);
}

/**
 * BioViL-T's temporal path (hi-ml MultiImageModel.forward with a previous image): inputs `pixel_values` (the
 * current images) and `previous_pixel_values` (one earlier image of the same patient per row), both
 * [batch, 3, S, S], through the trunk as one batch (hi-ml concatenates them), `backbone_to_vit`, then the ViT
 * pooler comparing each current map with its previous one; [current; pooled] goes on to the head. The outputs
 * are those of `buildTorchvisionResNet`. The config's neck must carry the pooler.
 */
export function buildTorchvisionResNetWithPrevious(cfg: TorchvisionResNetConfig, w: Weights, prefix = ''): BuiltGraph {
  if (!cfg.neck?.pooler) throw new ConfigError('a previous image needs the temporal neck (neck.pooler, BioViL-T); this image tower has none');
  return buildResNet(cfg, w, prefix, true);
}

function buildResNet(cfg: TorchvisionResNetConfig, w: Weights, prefix: string, withPrevious: boolean): BuiltGraph {
  const g = new GraphBuilder(withPrevious ? 'torchvision_resnet_temporal' : 'torchvision_resnet');
  const t = (k: string) => `${prefix}${cfg.trunk}${k}`;
  const S = cfg.imageSize;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, S, S]);
  // with a previous image: [current; previous] as one batch of 2B
  const both = withPrevious ? g.concat([pixels, g.input('previous_pixel_values', 'float32', ['batch', 3, S, S])], 0) : pixels;
  const R = cfg.inputSize ?? S;
  const input = cfg.inputSize ? g.resizeBilinearAlignCorners(both, g.concat([g.shape(both, 0, 2), g.ints([R, R])], 0)) : both;

  // stem: conv 7x7/2 -> BatchNorm -> ReLU -> maxpool 3x3/2
  let x = convBn(g, w, input, t('conv1'), t('bn1'), { cin: 3, cout: 64, kernel: 7, stride: 2, pad: 3 }, true);
  x = g.maxPool(x, 3, 2, 1);
  let side = outSize(outSize(R, 7, 2, 3), 3, 2, 1);
  let inplanes = 64;
  const stageOut: Array<{ x: Value; side: number; channels: number }> = [];
  cfg.layers.forEach((blocks, stage) => {
    const planes = 64 * 2 ** stage;
    const width = Math.floor(planes * (cfg.widthPerGroup / 64));
    for (let b = 0; b < blocks; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      x = bottleneck(g, w, x, t(`layer${stage + 1}.${b}`), inplanes, planes, width, cfg.expansion, stride);
      if (stride > 1) side = outSize(side, 3, 2, 1);
      inplanes = planes * cfg.expansion;
    }
    stageOut.push({ x, side, channels: inplanes });
  });
  // the ImageNet classifier: kept in the checkpoints, unused by the towers unless it is the head
  if (!(cfg.head.kind === 'linear' && `${cfg.trunk}fc` === cfg.head.key)) w.ignore(t('fc.weight'), t('fc.bias'));
  let C = inplanes;
  const cells = side * side;
  if (cfg.neck) {
    const n = cfg.neck;
    const k = (s: string) => `${prefix}${n.key}${s}`;
    const mapped = conv2d(g, w, x, k('backbone_to_vit'), { cin: C, cout: n.dim, kernel: 1 }); // [B (2B), dim, H, W]
    if (withPrevious) {
      const p = n.pooler!;
      if (p.grid[0] !== side || p.grid[1] !== side) throw new ConfigError(`the ViT pooler takes a ${p.grid[0]} x ${p.grid[1]} grid; ${S} px images give ${side} x ${side}`);
      const B = g.shape(pixels, 0, 1);
      const current = g.slice(mapped, g.ints([0]), B, g.ints([0])); // [B, dim, H, W]
      const previous = g.slice(mapped, B, g.mul(B, g.ints([2], [1], 'two')), g.ints([0]));
      const pooled = vitPooler(g, w, cellTokens(g, current, n.dim, cells), cellTokens(g, previous, n.dim, cells), n.dim, p, k('vit_pooler.')); // [B, cells, dim]
      const diff = g.reshape(g.transpose(pooled, [0, 2, 1]), [0, n.dim, side, side]); // [B, dim, H, W]
      x = g.concat([current, diff], 1); // [B, 2 dim, H, W]: [f_current, f_diff]
      w.ignore(k('missing_previous_emb'));
    } else {
      const missing = g.expand(w.param(g, k('missing_previous_emb'), [1, n.dim, 1, 1]), g.shape(mapped)); // [B, dim, H, W]
      x = g.concat([mapped, missing], 1); // [B, 2 dim, H, W]: [f_current, f_previous-missing]
      w.ignorePrefix(k('vit_pooler.'));
    }
    C = 2 * n.dim;
  }
  const tokens = cellTokens(g, x, C, cells); // [B, cells, C]

  let embeds: Value;
  let dense: Value;
  let E = C;
  if (cfg.head.kind === 'pool') {
    dense = tokens;
    embeds = g.reduceMean(tokens, [1]); // adaptive_avg_pool2d(x, 1) flattened: [B, C]
  } else if (cfg.head.kind === 'gloria') {
    const h = cfg.head;
    E = h.embedDim;
    const local = stageOut[2]!; // layer 3
    const localCells = local.side * local.side;
    const regions = cellTokens(g, local.x, local.channels, localCells); // [B, cells3, C3]
    const localEmb = conv2d(g, w, local.x, `${prefix}${h.localKey}`, { cin: local.channels, cout: E, kernel: 1 }); // [B, E, h3, w3]
    embeds = linear(g, w, g.reduceMean(tokens, [1]), `${prefix}${h.globalKey}`, E, C); // [B, E]
    g.output(embeds, 'image_embeds', 'float32', ['batch', E]);
    g.output(regions, 'patch_tokens', 'float32', ['batch', localCells, local.channels]);
    g.output(cellTokens(g, localEmb, E, localCells), 'patch_embeds', 'float32', ['batch', localCells, E]);
    return g.built();
  } else if (cfg.head.kind === 'linear') {
    const h = cfg.head;
    E = h.embedDim;
    const weight = w.linearT(g, `${prefix}${h.key}.weight`, E, C);
    const bias = h.bias ? w.param(g, `${prefix}${h.key}.bias`, [E]) : null;
    const apply = (v: Value) => (bias ? g.add(g.matmul(v, weight), bias) : g.matmul(v, weight));
    embeds = apply(g.reduceMean(tokens, [1])); // fc(avgpool(x)): [B, E]
    dense = apply(tokens); // [B, cells, E]
  } else {
    const h = cfg.head;
    const k = (s: string) => `${prefix}${h.key}${s}`;
    let y = conv2d(g, w, x, k('0'), { cin: C, cout: h.hidden, kernel: 1 });
    y = g.relu(batchNorm2d(g, w, y, k('1'), h.hidden));
    y = conv2d(g, w, y, k('3'), { cin: h.hidden, cout: h.embedDim, kernel: 1, bias: true }); // [B, E, H, W]
    E = h.embedDim;
    dense = cellTokens(g, y, E, cells); // [B, cells, E]
    embeds = g.reduceMean(dense, [1]); // torch.mean(projected, dim=(2, 3)): [B, E]
  }
  g.output(embeds, 'image_embeds', 'float32', ['batch', E]);
  g.output(tokens, 'patch_tokens', 'float32', ['batch', cells, C]);
  g.output(dense, 'patch_embeds', 'float32', ['batch', cells, E]);
  return g.built();
}

/** The final feature map: side x side cells of 512 * expansion channels (15 x 15 x 2048 for BioViL at 480 px). */
export function torchvisionResNetCells(cfg: TorchvisionResNetConfig): { grid: number; width: number } {
  let side = outSize(outSize(cfg.inputSize ?? cfg.imageSize, 7, 2, 3), 3, 2, 1);
  const last = cfg.head.kind === 'gloria' ? 3 : 4; // GLoRIA's regions are the layer-3 map
  for (let stage = 1; stage < last; stage++) side = outSize(side, 3, 2, 1);
  if (cfg.head.kind === 'gloria') return { grid: side, width: 256 * cfg.expansion };
  return { grid: side, width: cfg.neck ? 2 * cfg.neck.dim : 512 * cfg.expansion };
}

/**
 * Stage depths, width per group and expansion of a torchvision ResNet state dict (under `trunk`); the image
 * size and head are not in the shapes and come from the caller.
 * @example inferResNetTrunk(sd, 'biovil_image_resnet50_proj_size_128.pt', 'encoder.encoder.') // { layers: [3, 4, 6, 3], widthPerGroup: 64, expansion: 4 }
 */
export function inferResNetTrunk(sd: StateDict, file: string, trunk: string): Pick<TorchvisionResNetConfig, 'layers' | 'widthPerGroup' | 'expansion'> {
  const shape = (k: string): number[] => {
    const t = sd.get(`${trunk}${k}`);
    if (!t) throw new ConfigError(`not a torchvision ResNet state dict: key '${trunk}${k}' is missing`, { file });
    return t.shape;
  };
  const esc = trunk.replace(/\./g, '\\.');
  const blocks = (stage: number) => new Set([...sd.keys()].map((k) => new RegExp(`^${esc}layer${stage}\\.(\\d+)\\.conv1\\.`).exec(k)?.[1]).filter((x) => x !== undefined)).size;
  const layers = [1, 2, 3, 4].map(blocks) as TorchvisionResNetConfig['layers'];
  if (layers.some((n) => n === 0)) throw new ConfigError(`not a torchvision ResNet state dict under '${trunk}': stage blocks ${JSON.stringify(layers)}`, { file });
  if (shape('conv1.weight')[0] !== 64) throw new ConfigError(`${trunk}conv1.weight has ${shape('conv1.weight')[0]} output channels; torchvision's ResNet stem has 64`, { file });
  return { layers, widthPerGroup: shape('layer1.0.conv1.weight')[0]!, expansion: shape('layer1.0.conv3.weight')[0]! / 64 };
}
