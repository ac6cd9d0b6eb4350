// Starting and stopping the server as `clipmed serve` does: loopback unless told otherwise, never off loopback
// without a token, and a graceful stop on SIGINT/SIGTERM that lets in-flight requests finish.
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../index.ts';
import { buildServer, type ServerOptions } from './app.ts';

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '::ffff:127.0.0.1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

export interface ListenOptions extends ServerOptions {
  host: string;
  port: number;
}

/** Build the app and listen; resolves to the app and the address it listens on. */
export async function listen(o: ListenOptions): Promise<{ app: FastifyInstance; url: string }> {
  if (!isLoopback(o.host) && !o.token) {
    throw new ConfigError(`refusing to listen on ${o.host} without a token: anyone who can reach it could send images. Give --token (or CLIPMED_TOKEN), or listen on 127.0.0.1`);
  }
  if (o.token !== undefined && o.token.length < 8) throw new ConfigError('--token: use at least 8 characters');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new ConfigError(`--port ${o.port}: expected 0..65535`);
  const app = await buildServer(o);
  await app.listen({ host: o.host, port: o.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return { app, url: `http://${host}:${port}` };
}

/** Close on SIGINT/SIGTERM: stop accepting, finish in-flight requests, release the models. A second signal exits at once. */
export function stopOnSignals(app: FastifyInstance, log: (m: string) => void): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) process.exit(130);
    closing = true;
    log(`${signal}: finishing in-flight requests, then stopping`);
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`shutdown failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
