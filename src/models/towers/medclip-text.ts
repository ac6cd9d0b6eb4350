// MedCLIP's text tower (RyanWangZf/MedCLIP `medclip/modeling_medclip.py` MedCLIPTextModel; Wang et al., EMNLP
// 2022): Bio_ClinicalBERT, then the mean over token positions of hidden states 1, 2 and the last (the mean is
// not masked: padding positions count, so an embedding depends on how far its batch is padded), the three
// averaged, then a bias-free `projection_head` (MedCLIPModel builds it with proj_bias=False).
import { GraphBuilder, type BuiltGraph, type Value } from '../../graph/builder.ts';
import { ConfigError } from '../../errors.ts';
import { bertEncode, type BertConfig } from '../bert.ts';
import type { Weights } from '../weights.ts';

export type MedclipTextConfig = BertConfig & {
  embedDim: number;
  /** indices into transformers' hidden_states (0 = embeddings; negative from the end): [1, 2, -1] in MedCLIP */
  poolStates: number[];
  projBias: boolean;
};

/**
 * Inputs: `input_ids` and `attention_mask` int64 [batch, tokens] (padded as the caller pads; see above).
 * Outputs: `text_embeds` [batch, embedDim]. Keys `{prefix}model.*` (BertModel; its pooler is not read) and
 * `{prefix}projection_head.*`.
 */
export function buildMedclipText(c: MedclipTextConfig, w: Weights, prefix = 'text_model.'): BuiltGraph {
  const g = new GraphBuilder('medclip_text');
  const t = (k: string) => `${prefix}model.${k}`;
  const ids = g.input('input_ids', 'int64', ['batch', 'tokens']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'tokens']);
  const { states } = bertEncode(g, w, c, ids, mask, t);
  const picked = c.poolStates.map((i) => {
    const s = states[i < 0 ? states.length + i : i];
    if (!s) throw new ConfigError(`poolStates: hidden state ${i} does not exist (0..${states.length - 1})`);
    return g.reduceMean(s, [1]); // [B, W]: every position, padding included, as torch's .mean(2)
  });
  let pooled: Value = picked[0]!;
  for (const p of picked.slice(1)) pooled = g.add(pooled, p);
  pooled = g.div(pooled, g.floats([picked.length], [], 'n_states')); // [B, W]
  const proj = w.linearT(g, `${prefix}projection_head.weight`, c.embedDim, c.width);
  let embeds = g.matmul(pooled, proj);
  if (c.projBias) embeds = g.add(embeds, w.param(g, `${prefix}projection_head.bias`, [c.embedDim]));
  g.output(embeds, 'text_embeds', 'float32', ['batch', c.embedDim]);
  w.ignore(t('embeddings.position_ids'), t('embeddings.token_type_ids'), t('pooler.dense.weight'), t('pooler.dense.bias'));
  return g.built();
}
