// Constants and helpers of OpenAI CLIP / open_clip models (readers in src/models/readers/open-clip.ts).
import type { StateDict } from '../checkpoint/types.ts';

/** OpenAI CLIP's normalisation constants (open_clip `constants.py`). */
export const OPENAI_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** exp(logit_scale); CLIP's initial 1/0.07 when a checkpoint does not carry it. */
export function logitScaleOf(sd: StateDict, key = 'logit_scale'): number {
  const t = sd.get(key);
  if (!t || !(t.data instanceof Float32Array) || t.data.length !== 1) return 1 / 0.07;
  return Math.exp(t.data[0]!);
}
