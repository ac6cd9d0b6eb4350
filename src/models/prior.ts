// A model's image path with a previous image of the same patient (BioViL-T's temporal pooler): whether its
// vision tower has one, and its graph (inputs `pixel_values` and `previous_pixel_values`, the vision graph's
// outputs), built from the spec and the checkpoint's tensors like the other two graphs.
import type { StateDict } from '../checkpoint/types.ts';
import { ConfigError } from '../errors.ts';
import type { BuiltGraph } from '../graph/builder.ts';
import type { ModelSpec } from './spec.ts';
import './towers/builtin.ts';
import { getTower } from './towers/registry.ts';
import { Weights } from './weights.ts';

/**
 * Whether the spec's vision tower compares with a previous image.
 * @example hasPriorPath(biovilTSpec) // true; hasPriorPath(biomedclipSpec) // false
 */
export function hasPriorPath(spec: ModelSpec): boolean {
  const t = getTower(spec.vision.kind, 'vision');
  return Boolean(t.withPrevious?.takes(spec.vision.config));
}

/** The vision graph with a previous image; a ConfigError for a tower without that path. */
export function buildPriorVisionGraph(spec: ModelSpec, sd: StateDict, weightsFile: string): BuiltGraph {
  const t = getTower(spec.vision.kind, 'vision');
  if (!t.withPrevious?.takes(spec.vision.config)) {
    throw new ConfigError(`the ${spec.family} model's image tower (${spec.vision.kind}) has no path for a previous image; a prior image is compared by BioViL-T's temporal tower`, { file: weightsFile });
  }
  const w = new Weights(sd, weightsFile);
  return t.withPrevious.build(spec.vision.config, w, spec.vision.prefix);
}
