// The architecture registry: every family clipmed can build, tried in order.
import { UnsupportedError } from '../errors.ts';
import type { Family } from './family.ts';
import { hfClipFamily } from './hf-clip-family.ts';
import { openClipFamily } from './open-clip-family.ts';
import { siglipFamily } from './siglip-family.ts';
import { timmHfFamily } from './timm-hf-family.ts';
import type { ResolvedSource } from './source.ts';

export const FAMILIES: Family[] = [openClipFamily, hfClipFamily, siglipFamily, timmHfFamily];

export function familyFor(src: ResolvedSource): Family {
  const f = FAMILIES.find((x) => x.matches(src));
  if (!f) throw new UnsupportedError(`no architecture family builds this model (format ${src.format}); known: ${FAMILIES.map((x) => x.name).join(', ')}`, { file: src.weightsFile });
  return f;
}
