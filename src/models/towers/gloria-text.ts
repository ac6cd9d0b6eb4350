// GLoRIA's text encoder (marshuang80/gloria `gloria/models/text_model.py` BertEncoder; Huang et al., ICCV 2021):
// Bio_ClinicalBERT with every hidden state, the last `last_n_layers` of them (4) taken together, subword tokens
// summed into words (`aggregate_tokens`: a token starting with '##' joins the word before it, [SEP] is a word
// of its own, nothing after [SEP] is read, the word slots after the last word are zeros), then
//   word_embeddings = the layers summed (aggregate_method 'sum'; 'mean' averages) per word slot,
//   sent_embeddings = the mean over all word slots (zeros included) of each layer, summed over the layers.
// GLoRIA builds its text embedders as None (`emb_global, emb_local = None, None`) and its published config has
// `norm: false`, so both are BERT-wide and unnormalised. The slot mean divides by the padded length GLoRIA
// tokenizes to (`data.text.word_num`, 97), not by the batch's length, so a batch cut to its longest prompt
// gives the same embedding.
import { GraphBuilder, type BuiltGraph, type Value } from '../../graph/builder.ts';
import { ConfigError } from '../../errors.ts';
import { bertEncode, type BertConfig } from '../bert.ts';
import type { Weights } from '../weights.ts';

export type GloriaTextConfig = BertConfig & {
  /** model.text.last_n_layers: how many of the last hidden states are aggregated */
  lastLayers: number;
  /** model.text.aggregate_method */
  aggregate: 'sum' | 'mean';
  /** data.text.word_num: the length prompts are padded to, which the sentence mean divides by */
  wordNum: number;
  /** model.text.norm: L2-normalise the word and sentence embeddings */
  norm: boolean;
  /** ids of the vocabulary's '##' continuation pieces, as [first, end) ranges */
  continuation: Array<[number, number]>;
};

/**
 * The [first, end) id ranges of a WordPiece vocabulary's continuation pieces ('##...').
 * @example continuationRanges(['[PAD]', 'lung', '##s', '##ed', 'x']) // [[2, 4]]
 */
export function continuationRanges(vocab: readonly string[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  vocab.forEach((t, i) => {
    if (!t.startsWith('##')) return;
    const last = out[out.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  });
  return out;
}

/**
 * Inputs: `input_ids` and `attention_mask` int64 [batch, tokens] (padding after [SEP] has mask 0).
 * Outputs: `text_embeds` [batch, width] (GLoRIA's sent_embeddings) and `word_embeds` [batch, tokens, width]
 * (its word_embeddings transposed: slot 0 is [CLS], then the words, [SEP], zeros). Keys `{prefix}model.*`
 * (BertModel; its pooler is not read).
 */
export function buildGloriaText(c: GloriaTextConfig, w: Weights, prefix = 'gloria.text_encoder.'): BuiltGraph {
  const g = new GraphBuilder('gloria_text');
  const t = (k: string) => `${prefix}model.${k}`;
  const W = c.width;
  const ids = g.input('input_ids', 'int64', ['batch', 'tokens']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'tokens']);
  const { m, states } = bertEncode(g, w, c, ids, mask, t);
  if (c.lastLayers < 1 || c.lastLayers > states.length) throw new ConfigError(`last_n_layers ${c.lastLayers}: the BERT has ${states.length} hidden states`);
  if (c.lastLayers === 1) throw new ConfigError('last_n_layers 1: GLoRIA then uses BertModel\'s last state and pooler output, which this tower does not build');
  let x: Value = states[states.length - c.lastLayers]!;
  for (const s of states.slice(states.length - c.lastLayers + 1)) x = g.add(x, s); // [B, T, W]: the layers summed
  if (c.aggregate === 'mean') x = g.div(x, g.floats([c.lastLayers], [], 'n_layers'));

  // subword tokens into words: slot of token j = (tokens up to j that start a word) - 1; tokens after [SEP]
  // (mask 0) go nowhere. Summing per slot is the product with a [B, slots, T] one-hot assignment.
  const vocabSize = c.vocabSize;
  const starts = new Float32Array(vocabSize).fill(1);
  for (const [a, b] of c.continuation) {
    if (!(a >= 0 && b <= vocabSize && a < b)) throw new ConfigError(`continuation ids [${a}, ${b}) fall outside the vocabulary of ${vocabSize}`);
    starts.fill(0, a, b);
  }
  const isStart = g.gather(g.weight('gloria_word_starts', starts, [vocabSize]), ids); // [B, T]
  const slot = g.sub(g.op('CumSum', [isStart, g.ints([1], [], 'axis1')]), g.floats([1], [], 'one')); // [B, T]
  const index = g.floats(Array.from({ length: c.maxPositions }, (_, i) => i), [c.maxPositions], 'slot_index');
  const slots = g.reshape(g.slice(index, g.ints([0]), g.shape(ids, 1, 2), g.ints([0])), [1, -1, 1]); // [1, slots, 1]: 0..T-1
  const assign = g.mul(g.cast(g.op('Equal', [g.reshape(slot, [0, 1, -1]) /* [B, 1, T] */, slots]), 'float32'), g.reshape(m, [0, 1, -1])); // [B, slots, T]
  let words = g.matmul(assign, x); // [B, slots, W]
  let sentence = g.div(g.op('ReduceSum', [words, g.ints([1], [1], 'axis_slots')], { keepdims: 0 }), g.floats([c.wordNum], [], 'word_num')); // [B, W]
  if (c.norm) {
    // torch.norm over the feature axis; a zero slot gives 0/0 there as in GLoRIA
    words = g.div(words, g.op('ReduceL2', [words], { axes: [2], keepdims: 1 }));
    sentence = g.div(sentence, g.op('ReduceL2', [sentence], { axes: [1], keepdims: 1 }));
  }
  g.output(sentence, 'text_embeds', 'float32', ['batch', W]);
  g.output(words, 'word_embeds', 'float32', ['batch', 'tokens', W]);
  w.ignore(t('embeddings.position_ids'), t('pooler.dense.weight'), t('pooler.dense.bias'));
  return g.built();
}
