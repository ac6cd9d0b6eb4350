// The tower registry: every image and text tower clipmed can build, keyed by kind, so that a model is any
// vision tower paired with any text tower (open_clip v2.24.0 `model.py` `_build_vision_tower` /
// `_build_text_tower` choose them from config keys the same way).
//
// A tower is a function `(config, weights, prefix) => BuiltGraph`:
//   - `config` is plain JSON data (it goes into the model spec, `clipmed info` and the graph cache key);
//   - `weights` is the checked key mapping (src/models/weights.ts): take every tensor with `w.param(g, key,
//     shape)` under the checkpoint's own key, `w.linearT` for a torch Linear weight used by MatMul (the
//     transpose is a graph op, the initializer stays [out, in]), and `w.ignore(key)` for buffers;
//   - `prefix` is where the tower's keys start in the checkpoint (`visual.`, `text.`, '').
// A vision tower's graph takes `pixel_values` float32 [batch, 3, S, S] and gives `image_embeds` [batch, E],
// `patch_tokens` [batch, P, width] and `patch_embeds` [batch, P, E]; a text tower's takes `input_ids` int64
// [batch, tokens] (and `attention_mask` when its TextSpec says so) and gives `text_embeds` [batch, E].
//
// Registering a new kind (e.g. a ModifiedResNet in src/models/towers/modified-resnet.ts):
//   registerTower({
//     kind: 'open_clip-modified-resnet', modality: 'vision',
//     build: buildModifiedResNet,                       // (config, weights, prefix) => BuiltGraph
//     patchTokens: (c) => ({ grid: c.imageSize / 32, width: c.width * 32 }),
//     openClip: {                                       // optional: how open_clip's model_cfg names it
//       matches: (visionCfg) => Array.isArray(visionCfg.layers),
//       config: (visionCfg, ctx) => ({ ...read the fields..., embedDim: ctx.embedDim }),
//     },
//   });
// and import the module once from src/models/towers/builtin.ts. The open_clip reader then pairs it with any
// text tower.
import type { StateDict } from '../../checkpoint/types.ts';
import { UnsupportedError } from '../../errors.ts';
import type { BuiltGraph } from '../../graph/builder.ts';
import type { Weights } from '../weights.ts';

export type TowerModality = 'vision' | 'text';

/** The function shape every tower has. */
export type TowerBuilder<C = any> = (config: C, weights: Weights, prefix: string) => BuiltGraph;

/** What the open_clip reader hands a tower when it reads `vision_cfg` / `text_cfg` of an open_clip config. */
export interface OpenClipContext {
  /** model_cfg.embed_dim */
  embedDim: number;
  /** model_cfg.quick_gelu */
  quickGelu: boolean;
  /** the whole model_cfg */
  modelCfg: Record<string, unknown>;
  /** the checkpoint, for sizes only config-free towers can tell (timm, Hugging Face) */
  sd: StateDict;
  /** the prefix the tower's keys sit under */
  prefix: string;
  /** the weights file, for messages */
  file: string;
}

export interface TowerKind<C = any> {
  kind: string;
  modality: TowerModality;
  build: TowerBuilder<C>;
  /** vision towers: the grid and width of `patch_tokens` for this config */
  patchTokens?: (config: C) => { grid: number; width: number };
  /**
   * vision towers that can compare an image with a previous one of the same patient (BioViL-T): the graph with
   * inputs `pixel_values` and `previous_pixel_values`, for configs where `takes` holds
   */
  withPrevious?: { build: TowerBuilder<C>; takes: (config: C) => boolean };
  /** how open_clip's `vision_cfg` / `text_cfg` select and configure this tower, when it can appear there */
  openClip?: {
    matches: (towerCfg: Record<string, unknown>) => boolean;
    config: (towerCfg: Record<string, unknown>, ctx: OpenClipContext) => C;
  };
}

const REGISTRY = new Map<string, TowerKind>();

/** Add a tower kind; a kind registered twice is an error (two modules claiming one name). */
export function registerTower<C>(t: TowerKind<C>): void {
  if (REGISTRY.has(t.kind)) throw new UnsupportedError(`tower kind '${t.kind}' is registered twice`);
  if (t.modality === 'vision' && !t.patchTokens) throw new UnsupportedError(`vision tower '${t.kind}' must say its patch token grid (patchTokens)`);
  REGISTRY.set(t.kind, t as TowerKind);
}

/**
 * The tower of `kind` for `modality`, or an UnsupportedError listing the known ones.
 * @example getTower('timm-vit', 'vision').build // buildTimmVit
 */
export function getTower(kind: string, modality: TowerModality): TowerKind {
  const t = REGISTRY.get(kind);
  if (!t || t.modality !== modality) {
    throw new UnsupportedError(`no ${modality} tower of kind '${kind}'; registered ${modality} towers: ${listTowers(modality).map((x) => x.kind).join(', ')}`);
  }
  return t;
}

/** Every registered tower (of one modality), in registration order. */
export function listTowers(modality?: TowerModality): TowerKind[] {
  return [...REGISTRY.values()].filter((t) => !modality || t.modality === modality);
}

/** The first registered tower whose open_clip reading matches `towerCfg`. */
export function openClipTowerFor(modality: TowerModality, towerCfg: Record<string, unknown>): TowerKind | undefined {
  return listTowers(modality).find((t) => t.openClip?.matches(towerCfg));
}
