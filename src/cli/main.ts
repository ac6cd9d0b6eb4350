// The clipmed command line: a thin shell over the library (see src/index.ts).
import { Command } from 'commander';
import { commands } from './commands/index.ts';
import { ClipmedError } from '../errors.ts';

const program = new Command();
program
  .name('clipmed')
  .description('CLIP in medical imaging: exact embeddings, zero-shot classification and retrieval from published checkpoints, no Python.')
  .version('0.1.0')
  .showHelpAfterError();

for (const load of commands) (await load()).register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ClipmedError) {
    console.error(`clipmed: ${err.name}: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
