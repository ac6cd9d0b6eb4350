// An architecture family turns a resolved source and its state dict into two graphs plus the data that
// says how to feed and score them. Model differences live here, as data; tasks never ask which model it is.
import type { StateDict } from '../checkpoint/types.ts';
import type { PreprocessConfig } from '../image/preprocess.ts';
import type { OpenAIOverrides } from './clip-config.ts';
import type { BuiltGraph } from './clip-towers.ts';
import type { ResolvedSource } from './source.ts';

/** How texts become token ids for this model's text graph. */
export interface TextSpec {
  tokenizer:
    | { kind: 'clip-bpe' }
    | {
        kind: 'wordpiece'; vocabFile: string; lowercase: boolean; /** the Hugging Face repository the vocabulary comes from, when not the model's own (open_clip's hf_tokenizer_name) */ repo?: string;
        /**
         * the model's own prompt cleaning before WordPiece ('gloria': GLoRIA.process_text, src/text/gloria-clean.ts;
         * 'bert': none, transformers' BertTokenizer as it is, without open_clip's ftfy and HTML unescaping (MedCLIP))
         */
        clean?: 'gloria' | 'bert';
      }
    /**
     * a SentencePiece model, `file` named relative to the model's folder (compiled graphs are cached by content,
     * so one cache entry serves every copy of a folder); `flavor: 'siglip'` adds SiglipTokenizer's text handling
     */
    | { kind: 'sentencepiece'; file: string; flavor: 'siglip'; eosId: number; unkToken: string; lowercase: boolean }
    /** a Hugging Face byte-level BPE tokenizer.json named relative to the model's folder (CONCH), padding with `padToken` */
    | { kind: 'byte-level-bpe'; file: string; padToken: string; /** the text tower's vocabulary size, which the file's must equal */ vocabSize: number };
  contextLength: number;
  /** the id after the end token up to contextLength (CLIP BPE: 0 for open_clip, 49407 for openai/clip-vit-* on the hub) */
  padId: number;
  /** a batch may be cut to its longest end token (causal mask + end-token pooling) */
  cutToEnd: boolean;
  /** the text graph takes `attention_mask` (1 for real tokens, 0 for padding) */
  attentionMask: boolean;
  /** the text graph takes `token_type_ids` (all zeros) */
  tokenTypeIds: boolean;
  /**
   * 'longest': the embedding depends on the padding (MedCLIP's unmasked mean over tokens), so every text of one
   * embedding call is padded to the longest of them, as transformers' padding=True, whatever the batch size;
   * zero-shot embeds each class's prompts in a call of their own, as MedCLIP tokenizes them a class at a time.
   */
  padding?: 'longest';
}

/** How image-text similarity becomes a score (open_clip: softmax with logit_scale; SigLIP: sigmoid with bias). */
export type ScoreSpec =
  /** `ensemble: 'mean-logits'`: a class's logit is the mean of its prompts' logits (MedCLIP's PromptClassifier), not the logit of their renormalised mean */
  | { kind: 'softmax'; logitScale: number; ensemble?: 'mean-logits' }
  | { kind: 'sigmoid'; logitScale: number; logitBias: number }
  /**
   * GLoRIA's global + local similarity (src/tasks/local-alignment.ts), then a softmax over the classes at
   * `logitScale`: a prompt's words are word slots 1..n of the text graph's `word_embeds`, n counted by
   * `wordCount` and at most `wordSlots` - 1
   */
  | { kind: 'global-local'; logitScale: number; attentionTemp: number; wordTemp: number; wordSlots: number; wordCount: 'prompt-characters' };

export interface BuiltModel {
  vision: BuiltGraph;
  text: BuiltGraph;
  /** the family's own architecture description, shown by `clipmed info` */
  architecture: Record<string, unknown>;
  embedDim: number;
  /** shape of the `patch_tokens` output: grid x grid tokens of `width` */
  patchTokens: { grid: number; width: number };
  textSpec: TextSpec;
  preprocess: PreprocessConfig;
  score: ScoreSpec;
}

export interface Family {
  name: string;
  /** whether this family builds `src` (first match wins) */
  matches(src: ResolvedSource): boolean;
  build(src: ResolvedSource, sd: StateDict, overrides: OpenAIOverrides): BuiltModel;
}

/** What a model needs from a tokenizer: ids [n, contextLength], padded with the model's pad id. */
export interface TextTokenizer {
  tokenize(texts: string[], contextLength: number): Int32Array;
}
