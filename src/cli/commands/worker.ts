// clipmed worker: embed the shards that `clipmed index --queue` enqueues, until stopped (SIGINT/SIGTERM).
import type { Command } from 'commander';
import { parseDecodeThreads, startWorker } from '../../index.ts';
import { DECODE_THREADS_HELP } from '../images.ts';

interface WorkerCmdOptions {
  queue: string;
  threads?: string;
  decodeThreads?: string;
  concurrency: string;
  lockMs: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('process indexing shards from a Redis queue (BullMQ) into the database each shard names; runs until stopped')
    .requiredOption('--queue <redis://HOST:PORT>', 'the Redis server `clipmed index --queue` enqueues to')
    .option('--threads <n>', 'CPU threads per model (default: all cores)')
    .option('--decode-threads <n>', DECODE_THREADS_HELP)
    .option('--concurrency <n>', 'shards at once in this process', '1')
    .option('--lock-ms <ms>', 'how long a shard stays locked without renewal before another worker may take it over', '30000')
    .option('-q, --quiet', 'no log lines')
    .addHelpText('after', `
A worker killed mid-shard loses nothing: the shard is handed to another worker after its lock expires, and
batches already committed are skipped. Workers need the same database path (or object store) and model.

Example:
  clipmed worker --queue redis://127.0.0.1:6379 --threads 1`)
    .action(async (opts: WorkerCmdOptions) => {
      const log = opts.quiet ? () => {} : (m: string) => process.stderr.write(`clipmed worker: ${m}\n`);
      const worker = await startWorker(opts.queue, {
        threads: opts.threads ? Number(opts.threads) : undefined,
        decodeThreads: opts.decodeThreads === undefined ? undefined : parseDecodeThreads(opts.decodeThreads),
        concurrency: Math.max(1, Number(opts.concurrency)),
        lockDuration: Math.max(1000, Number(opts.lockMs)),
        log,
      });
      await worker.waitUntilReady();
      log(`waiting for shards on ${opts.queue}`);
      await new Promise<void>((resolveStop) => {
        const stop = () => void worker.close().then(resolveStop);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      log('stopped');
    });
}
