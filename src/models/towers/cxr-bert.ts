// CXR-BERT's projected text embedding (hi-ml-multimodal `text/model/modelling_cxrbert.py`, CXRBertModel;
// Boecking et al., ECCV 2022), the text tower of BioViL and BioViL-T: a BertForMaskedLM whose [CLS] state
// after the last layer goes through `cls_projection_head` (dense_to_hidden -> GELU -> LayerNorm eps 1e-12 ->
// dense_to_output) into the joint space (`get_projected_text_embeddings(normalize_embeddings=False)`).
import { GraphBuilder, type BuiltGraph } from '../../graph/builder.ts';
import type { StateDict } from '../../checkpoint/types.ts';
import { ConfigError } from '../../errors.ts';
import { bertConfigFromHf, bertEncode, configNumber, type BertConfig } from '../bert.ts';
import { activation, layerNorm, linear } from '../transformer.ts';
import type { Weights } from '../weights.ts';
import { tokenAt } from './parts.ts';

export type CxrBertConfig = BertConfig & { projectionSize: number };

/**
 * The CXR-BERT architecture from a transformers `config.json` (model_type "cxr-bert") and the weights' shapes.
 * @example cxrBertConfig(JSON.parse(configJson), sd, 'pytorch_model.bin').projectionSize // 128
 */
export function cxrBertConfig(hf: Record<string, unknown>, sd: StateDict, file: string, prefix = 'bert.'): CxrBertConfig {
  if (hf.model_type !== 'cxr-bert') throw new ConfigError(`config.json model_type '${String(hf.model_type)}': expected 'cxr-bert'`, { file });
  const bert = bertConfigFromHf(hf, sd, file, `${prefix}encoder.layer.`, { name: String(hf._name_or_path ?? 'cxr-bert'), lowercase: true });
  return { ...bert, projectionSize: configNumber(hf, 'projection_size', file, 128) };
}

/**
 * Inputs: `input_ids` and `attention_mask` int64 [batch, tokens].
 * Outputs: `text_embeds` [batch, projectionSize]. Keys `{prefix}bert.*` and `{prefix}cls_projection_head.*`;
 * the masked-LM head (`cls.predictions.*`) is not read.
 */
export function buildCxrBertText(c: CxrBertConfig, w: Weights, prefix = ''): BuiltGraph {
  const g = new GraphBuilder('cxr_bert_text');
  const t = (k: string) => `${prefix}bert.${k}`;
  const h = (k: string) => `${prefix}cls_projection_head.${k}`;
  const ids = g.input('input_ids', 'int64', ['batch', 'tokens']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'tokens']);
  const { x } = bertEncode(g, w, c, ids, mask, t);
  const P = c.projectionSize;
  let y = linear(g, w, tokenAt(g, x, 0, 'cls_index'), h('dense_to_hidden'), P, c.width); // [B, P]
  y = layerNorm(g, w, activation(g, y, 'gelu'), h('LayerNorm'), P, 1e-12);
  y = linear(g, w, y, h('dense_to_output'), P, P);
  g.output(y, 'text_embeds', 'float32', ['batch', P]);
  w.ignore(t('embeddings.position_ids'), t('embeddings.token_type_ids'));
  return g.built();
}
