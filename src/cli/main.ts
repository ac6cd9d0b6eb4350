// The clipmed command line: a thin shell over the library (see src/index.ts).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { commands } from './commands/index.ts';
import { ClipmedError } from '../index.ts';
import { describeError, exitQuietlyOnEpipe, typedError } from './output.ts';
import { setQuiet } from './shared.ts';
import { validateOptions } from './validate.ts';

exitQuietlyOnEpipe();

// the package's version, from its package.json (src/cli and dist/cli are both two levels below it)
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('clipmed')
  .description('CLIP in medical imaging: exact embeddings, zero-shot classification and retrieval from published checkpoints, no Python.')
  .version(version)
  .option('-q, --quiet', 'no progress bars or messages on stderr, only errors (also: HF_HUB_DISABLE_PROGRESS_BARS=1 turns the bars off)')
  // a mistyped option gets commander's one-line error, its "did you mean" and this hint, not the whole help
  .showHelpAfterError('(run with --help for the options)')
  .configureHelp({ showGlobalOptions: true })
  .configureOutput({ outputError: (text, write) => write(`clipmed: ${text}`) })
  .hook('preAction', (_, action) => {
    setQuiet(Boolean(program.opts().quiet));
    validateOptions(action.opts());
  });

for (const load of commands) (await load()).register(program);

try {
  await program.parseAsync(process.argv);
} catch (caught) {
  const err = typedError(caught);
  process.stderr.write(`clipmed: ${describeError(err)}\n`);
  if (err instanceof ClipmedError) process.exit(2);
  if (process.env.CLIPMED_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  else process.stderr.write('clipmed: this is a bug in clipmed; run with CLIPMED_DEBUG=1 for the stack trace and report it\n');
  process.exit(1);
}
