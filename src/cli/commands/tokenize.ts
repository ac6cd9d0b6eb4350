// clipmed tokenize: the model's token ids, identical to open_clip's tokenizer.
import type { Command } from 'commander';
import { ClipTokenizer, parseClipConfig, resolveLocalSource, type ClipConfig } from '../../index.ts';
import { collect } from '../shared.ts';

export function register(program: Command): void {
  program
    .command('tokenize')
    .description("token ids as the model's tokenizer gives them: start and end tokens, zero padding to the context length")
    .option('-m, --model <source>', 'model source (its context length is used); without it, CLIP BPE with context 77')
    .requiredOption('-t, --text <string>', 'text to tokenize; repeatable', collect, [])
    .option('--context-length <n>', 'override the context length')
    .option('--json', 'print [{"text", "tokens"}]')
    .action(async (opts: { model?: string; text: string[]; contextLength?: string; json?: boolean }) => {
      let context = 77;
      if (opts.model) {
        const src = await resolveLocalSource(opts.model);
        // an OpenAI state dict's context length is its positional embedding length: 77 for every published one
        const cfg: ClipConfig | undefined = src.config ? parseClipConfig(src.config.model_cfg as Record<string, unknown>, src.weightsFile) : undefined;
        context = cfg?.text.contextLength ?? 77;
      }
      if (opts.contextLength) context = Number(opts.contextLength);
      const tok = await ClipTokenizer.load();
      const ids = tok.tokenize(opts.text, context);
      const out = opts.text.map((text, i) => ({ text, tokens: Array.from(ids.subarray(i * context, (i + 1) * context)) }));
      if (opts.json) console.log(JSON.stringify(out));
      else for (const o of out) console.log(`${o.text}\t${o.tokens.slice(0, o.tokens.indexOf(49407) + 1).join(' ')}`);
    });
}
