// GLoRIA's prompt cleaning before its tokenizer (marshuang80/gloria `gloria/models/gloria_model.py`
// GLoRIA.process_text): newlines to spaces; split into sentences at "<digits>." and at every "."; in each, the
// pair "\ufffd\ufffd" to a space, lower case, the runs of word characters (nltk RegexpTokenizer(r"\w+"), i.e.
// re.findall), a sentence of one such token or none dropped, non-ASCII characters removed from each token
// (empty tokens dropped); the sentences' tokens joined by single spaces.
import type { TextTokenizer } from '../models/family.ts';

/** Python's \w on str patterns: Unicode letters, digits and the underscore (str.isalnum() or '_'). */
const WORD = /[\p{L}\p{N}_]+/gu;

/**
 * A prompt as GLoRIA hands it to its tokenizer.
 * @example gloriaClean('A chest X-ray showing pneumonia. Clear.') // 'a chest x ray showing pneumonia'
 */
export function gloriaClean(text: string): string {
  const sentences = text.replace(/\n/g, ' ').split(/[0-9]+\./).flatMap((s) => s.split('.'));
  const kept: string[] = [];
  for (const s of sentences) {
    const tokens = s.replaceAll('\ufffd\ufffd', ' ').toLowerCase().match(WORD) ?? [];
    if (tokens.length <= 1) continue;
    kept.push(tokens.map((t) => t.replace(/[^\x00-\x7f]/g, '')).filter((t) => t.length > 0).join(' '));
  }
  return kept.join(' ');
}

/** A tokenizer that cleans each text as GLoRIA does first. */
export class GloriaCleaningTokenizer implements TextTokenizer {
  constructor(private readonly inner: TextTokenizer) {}

  tokenize(texts: string[], contextLength: number): Int32Array {
    return this.inner.tokenize(texts.map(gloriaClean), contextLength);
  }
}
