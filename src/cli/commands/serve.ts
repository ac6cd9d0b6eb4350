// clipmed serve: the library over HTTP (src/server/), with the browser app (web/) at /.
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { ConfigError } from '../../index.ts';
import { listen, stopOnSignals } from '../../server/listen.ts';
import { collect, loadModel, MODEL_HELP, PROTOCOL_HELP } from '../shared.ts';

interface ServeOptions {
  model: string[];
  protocol?: string;
  threads?: string;
  db?: string;
  host: string;
  port: string;
  token?: string;
  maxBodyMb: string;
  maxPixels: string;
  maxFiles: string;
  concurrency: string;
  queue: string;
  dicomwebOrigin: string[];
  corpus?: string;
  corpusColumn: string;
  web?: string;
}

const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

function positive(name: string, v: string, min = 1): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new ConfigError(`${name} ${v}: expected a whole number >= ${min}`);
  return x;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve models over HTTP (OpenAPI at /openapi.json, docs at /docs) and the browser app at /')
    .requiredOption('-m, --model <source>', `${MODEL_HELP}; repeatable (the first is the default, a request's 'model' field picks another)`, collect, [])
    .option('--protocol <name>', PROTOCOL_HELP)
    .option('--threads <n>', 'CPU threads per model (default: all cores)')
    .option('--db <dir>', 'an archive made by `clipmed index`, searched by /v1/search')
    .option('--host <host>', 'address to listen on; anything but loopback needs --token', '127.0.0.1')
    .option('-p, --port <n>', 'port (0: any free port)', '8787')
    .option('--token <t>', 'bearer token every /v1 request must carry (or set CLIPMED_TOKEN, which keeps it out of the process list)')
    .option('--max-body-mb <n>', 'largest request body, MiB (413 above)', '64')
    .option('--max-pixels <n>', 'largest image, pixels over all frames (413 above)', String(2 ** 26))
    .option('--max-files <n>', 'most images in one request (413 above)', '64')
    .option('--concurrency <n>', 'requests computed at once', '1')
    .option('--queue <n>', 'requests that may wait; more get 503 with Retry-After', '64')
    .option('--dicomweb-origin <origin>', 'let requests name DICOMweb URLs of this origin (e.g. http://pacs:8042); repeatable', collect, [])
    .option('--corpus <file>', 'report corpus for /v1/report (CSV or one report per line)')
    .option('--corpus-column <names>', 'CSV column(s) of the corpus text', 'impression')
    .option('--web <dir>', 'folder of the built browser app (default: web/dist of this package)')
    .addHelpText('after', `
Logs are JSON lines on stdout with a request id per request (also sent back as x-request-id); they never hold
file names, labels, query strings or pixels; --quiet turns them off. SIGINT/SIGTERM stops accepting and finishes in-flight requests.

Examples:
  clipmed serve --model biomedclip
  CLIPMED_TOKEN=s3cret-token clipmed serve --model biomedclip --model chexzero.pt --host 0.0.0.0 --port 8080
  curl -F file=@chest.jpeg -F labels=normal,pneumonia http://127.0.0.1:8787/v1/classify`)
    .action(async (opts: ServeOptions, cmd: Command) => {
      // --quiet is the program's option (every command has it): here it also turns the request log off
      const quiet = Boolean(cmd.optsWithGlobals().quiet);
      const token = opts.token ?? process.env.CLIPMED_TOKEN;
      const port = positive('--port', opts.port, 0);
      const options = {
        host: opts.host,
        port,
        token: token || undefined,
        protocol: opts.protocol,
        maxBodyBytes: positive('--max-body-mb', opts.maxBodyMb) * 2 ** 20,
        maxPixels: positive('--max-pixels', opts.maxPixels),
        maxFiles: positive('--max-files', opts.maxFiles),
        concurrency: positive('--concurrency', opts.concurrency),
        maxQueued: positive('--queue', opts.queue, 0),
        dicomwebOrigins: opts.dicomwebOrigin.map((o) => new URL(o).origin),
        corpus: opts.corpus ? { file: opts.corpus, columns: opts.corpusColumn.split(',') } : undefined,
        db: opts.db,
        webRoot: opts.web ?? WEB_DIST,
        logger: quiet ? false : { level: 'info' },
      };
      // refuse a bad address before the (slow) model loading
      const { isLoopback } = await import('../../server/listen.ts');
      if (!isLoopback(options.host) && !options.token) {
        throw new ConfigError(`refusing to listen on ${options.host} without a token: give --token (or CLIPMED_TOKEN), or listen on 127.0.0.1`);
      }
      const models = [];
      for (const m of opts.model) models.push(await loadModel({ model: m, threads: opts.threads, protocol: opts.protocol }));
      const { app, url } = await listen({ ...options, models });
      process.stderr.write(`clipmed: serving ${models.map((m) => m.source.name).join(', ')} at ${url} (API docs at ${url}/docs)\n`);
      stopOnSignals(app, (m) => process.stderr.write(`clipmed: ${m}\n`));
    });
}
