// clipmed over HTTP: a Fastify app that is a thin shell over the library (src/index.ts). Every /v1 endpoint
// reads images the way the CLI does and answers with the JSON of the CLI command of the same name.
// Safety: bearer token on /v1, body/pixel/file limits (413), a bounded queue (503 + Retry-After), request ids
// in logs that never carry file names, labels or pixels, and errors as RFC 9457 problem+json.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fastifyStatic from '@fastify/static';
import { ClipmedError, ConfigError, httpStatus, type ClipModel } from '../index.ts';
import { BusyError, WorkQueue } from './queue.ts';
import { HttpError, type RequestLimits } from './inputs.ts';
import { ClassifierCache } from './tasks.ts';
import { registerRoutes } from './routes.ts';

export interface ServerOptions {
  /** loaded models; the first is the default */
  models: ClipModel[];
  /** the preprocessing protocol the models were loaded with (`--protocol`), reported to the browser app */
  protocol?: string;
  /** bearer token every /v1 request must carry; none: /v1 is open (loopback only, enforced by `clipmed serve`) */
  token?: string;
  /** largest request body, bytes (default 64 MiB) */
  maxBodyBytes?: number;
  /** largest image, pixels over all frames (default 2^26) */
  maxPixels?: number;
  /** most images in a request (default 64) */
  maxFiles?: number;
  /** requests computed at once (default 1: one request already uses every core) */
  concurrency?: number;
  /** requests that may wait for a slot before new ones get 503 (default 64) */
  maxQueued?: number;
  /** origins whose DICOMweb URLs may be fetched (default none) */
  dicomwebOrigins?: string[];
  /** a report corpus for /v1/report (CSV with columns, or one report per line) */
  corpus?: { file: string; columns: string[] };
  /** folder of the search index for /v1/search */
  db?: string;
  /** folder with the built browser app (index.html), served at / */
  webRoot?: string;
  /** Fastify logger: false, true, or pino options (a `stream` for tests) */
  logger?: FastifyServerOptions['logger'];
}

/** What route handlers share. */
export interface ServerContext {
  options: ServerOptions;
  limits: RequestLimits;
  queue: WorkQueue;
  classifiers: ClassifierCache;
  model(name: string | undefined): ClipModel;
}

/** The path of a URL without its query (queries can hold labels or DICOMweb UIDs; logs must not). */
const pathOnly = (url: string) => url.split('?')[0]!;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Send an RFC 9457 problem document. */
export function problem(reply: FastifyReply, status: number, detail: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, instance: reply.request.id, ...extra });
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  if (options.models.length === 0) throw new ConfigError('serve: give at least one --model');
  const names = options.models.map((m) => m.source.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ConfigError(`serve: two models are named '${dup}'; give each a distinct folder name`);
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 2 ** 20;
  const limits: RequestLimits = { maxPixels: options.maxPixels ?? 2 ** 26, maxFiles: options.maxFiles ?? 64, dicomwebOrigins: options.dicomwebOrigins ?? [], maxBodyBytes };
  const queue = new WorkQueue(options.concurrency ?? 1, options.maxQueued ?? 64);
  const byName = new Map(options.models.map((m) => [m.source.name, m]));
  const ctx: ServerContext = {
    options,
    limits,
    queue,
    classifiers: new ClassifierCache(),
    model(name) {
      if (name === undefined || name === '') return options.models[0]!;
      const m = byName.get(name);
      if (!m) throw new HttpError(`no model '${name}' is loaded (loaded: ${names.join(', ')})`, 404);
      return m;
    },
  };

  // method and path only: no query, no headers (the token), no client address
  const serializers = {
    req: (r: { method: string; url: string }) => ({ method: r.method, path: pathOnly(r.url) }),
    res: (r: { statusCode: number }) => ({ statusCode: r.statusCode }),
  };
  const logger: FastifyServerOptions['logger'] =
    options.logger === false ? false : { ...(typeof options.logger === 'object' ? options.logger : {}), serializers };
  const app = Fastify({
    bodyLimit: maxBodyBytes,
    return503OnClosing: true,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : crypto.randomUUID();
    },
    logger,
  });

  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  // raw image bodies
  for (const type of ['application/octet-stream', 'application/dicom', /^image\//]) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) => done(null, body));
  }
  await app.register(multipart, { limits: { fileSize: maxBodyBytes, files: limits.maxFiles, fields: 200, fieldSize: 1 << 16, parts: limits.maxFiles + 200 } });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'clipmed', description: 'CLIP models for medical imaging over HTTP: embeddings, zero-shot classification, explanations, heatmaps, reports, search.', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: options.token ? [{ bearer: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // authentication: every /v1 request, compared in constant time
  const want = options.token ? digest(options.token) : undefined;
  app.addHook('onRequest', async (req, reply) => {
    if (!want || !req.url.startsWith('/v1')) return;
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer (.+)$/i.exec(h) : null;
    if (!m || !timingSafeEqual(digest(m[1]!), want)) {
      reply.header('www-authenticate', 'Bearer realm="clipmed"');
      return problem(reply, 401, m ? 'wrong bearer token' : 'this server needs Authorization: Bearer <token>');
    }
  });
  // backpressure before the body is read: a full queue answers at once
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'POST' && req.url.startsWith('/v1') && queue.active >= queue.concurrency && queue.queued >= queue.maxQueued) {
      reply.header('retry-after', '1');
      return problem(reply, 503, `server busy: ${queue.active} running and ${queue.queued} queued`);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    let status: number;
    if (err instanceof HttpError) status = err.status;
    else if (err instanceof BusyError) {
      status = 503;
      reply.header('retry-after', String(err.retryAfter));
    } else if (err instanceof ClipmedError) status = httpStatus(err);
    else {
      const code = (err as { statusCode?: number }).statusCode;
      status = typeof code === 'number' && code >= 400 && code < 600 ? code : 500;
    }
    // the log gets the kind of error, never its message (it can name an uploaded file)
    const name = err instanceof Error ? err.name : 'Error';
    if (status >= 500 && status !== 503) req.log.error({ error: name, code: (err as { code?: string }).code, status }, 'request failed');
    else req.log.info({ error: name, status }, 'request refused');
    const detail = status === 500 ? 'internal error (see the server log for the request id)' : err instanceof Error ? err.message : String(err);
    return problem(reply, status, detail, { error: name });
  });
  app.setNotFoundHandler((req, reply) => problem(reply, 404, `no route ${req.method} ${pathOnly(req.url)}`));

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/healthz', { schema: { summary: 'liveness and load', tags: ['service'] } }, async () => ({
    status: 'ok',
    models: names,
    queue: { running: queue.active, queued: queue.queued, limit: queue.maxQueued },
  }));

  await registerRoutes(app, ctx);

  if (options.webRoot && existsSync(join(options.webRoot, 'index.html'))) {
    await app.register(fastifyStatic, { root: options.webRoot, prefix: '/', index: ['index.html'] });
  } else {
    app.get('/', { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/html').send('<!doctype html><title>clipmed</title><p>clipmed server. API: <a href="/docs">/docs</a>, <a href="/openapi.json">/openapi.json</a>. The browser app is not built (npm run build:web).</p>'),
    );
  }
  app.addHook('onClose', async () => {
    for (const m of options.models) await m.release();
  });
  return app;
}

