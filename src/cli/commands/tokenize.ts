// clipmed tokenize: the model's token ids, identical to the original tokenizer's.
import type { Command } from 'commander';
import { ClipModel, ClipTokenizer } from '../../index.ts';
import { collect, info } from '../shared.ts';

export function register(program: Command): void {
  program
    .command('tokenize')
    .description("token ids as the model's tokenizer gives them: start and end tokens, padding to the context length")
    .option('-m, --model <source>', "model source (its own tokenizer and context length); without it, CLIP BPE with context 77")
    .requiredOption('-t, --text <string>', 'text to tokenize; repeatable', collect, [])
    .option('--json', 'print [{"text", "tokens"}]')
    .action(async (opts: { model?: string; text: string[]; json?: boolean }) => {
      let ids: Int32Array;
      let context = 77;
      let padId = 0;
      if (opts.model) {
        // the tokenizer alone: no graphs are built
        const { tokenizer, text } = await ClipModel.loadTokenizer(opts.model, { log: info });
        context = text.contextLength;
        padId = text.padId;
        ids = tokenizer.tokenize(opts.text, context);
      } else {
        ids = (await ClipTokenizer.load()).tokenize(opts.text, context);
      }
      const out = opts.text.map((text, i) => ({ text, tokens: Array.from(ids.subarray(i * context, (i + 1) * context)) }));
      if (opts.json) console.log(JSON.stringify(out));
      else {
        for (const o of out) {
          // show the ids without the trailing padding, and say how much there was
          let end = o.tokens.length;
          while (end > 0 && o.tokens[end - 1] === padId) end--;
          if (padId !== 0 && end < o.tokens.length) end++; // a non-zero pad id is also the end token (HF CLIP, SigLIP)
          const pad = o.tokens.length - end;
          console.log(`${o.text}\t${o.tokens.slice(0, end).join(' ')}${pad ? `  (+${pad} x ${padId} padding to ${context})` : ''}`);
        }
      }
    });
}
