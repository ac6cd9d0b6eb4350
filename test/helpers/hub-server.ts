// A small stand-in for the Hugging Face hub, for tests: node:http on 127.0.0.1 (free port) serving one model repo
// built from a fixture folder (files read from there, never copied), with the hub's response headers:
// X-Repo-Commit; ETag = the git blob sha1 for small files; for large (LFS) files a 302 to a "CDN" path with
// X-Linked-Etag = the sha256 and X-Linked-Size; Range requests answered with 206. Knobs make it require a token,
// cut responses short, or serve corrupted bytes; every request is recorded.
//
//   const hub = await startHubServer();
//   process.env.HF_ENDPOINT = hub.endpoint;
//   try { await resolveHubSource(`hf-hub:${hub.repo}`) } finally { await hub.stop(); }
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from './reference.ts';

export interface HubFile {
  name: string;
  bytes: Buffer;
  lfs: boolean;
  sha256: string;
  /** sha1("blob <size>\0" + content), git's object id */
  gitSha1: string;
}

export interface HubRequest {
  method: string;
  /** path and query */
  path: string;
  /** which server answered: the hub, or the CDN that LFS files redirect to */
  on: 'hub' | 'cdn';
  range?: string;
  authorization?: string;
}

export interface HubKnobs {
  /** answer 401 unless `Authorization: Bearer <token>` */
  token?: string;
  /** the next `times` CDN responses send `bytes` bytes of body, then the connection is dropped (or, with `stall`, left open and silent) */
  cut?: { bytes: number; times: number; stall?: boolean };
  /** the CDN serves LFS files with one byte changed */
  corrupt?: boolean;
  /** the next `n` CDN requests get a 403, as when a signed URL has expired */
  cdnRefuse?: number;
  /** the next `n` hub requests get their connection closed without an answer (a stale keep-alive connection) */
  hubReset?: number;
}

export interface HubServerOptions {
  repo?: string;
  /** fixture folder whose files the repo holds (default: the tiny-quickgelu open_clip fixture) */
  source?: string;
  files?: string[];
  /** files larger than this are stored in LFS (default 10 kB, as the hub's own threshold is small) */
  lfsAbove?: number;
  /** put the CDN on its own port, i.e. another origin, to check that the token does not follow the redirect */
  separateCdn?: boolean;
  /** host name the redirects use for a separate CDN (default 127.0.0.1; `localhost` makes it another host) */
  cdnHost?: string;
  /** more repositories served beside the main one (e.g. the tokenizer repository an open_clip config names) */
  extraRepos?: Array<{ repo: string; source: string; files: string[] }>;
}

export interface HubServer {
  /** what HF_ENDPOINT should be, e.g. http://127.0.0.1:41234 */
  endpoint: string;
  cdn: string;
  repo: string;
  commit: string;
  files: Map<string, HubFile>;
  requests: HubRequest[];
  knobs: HubKnobs;
  /** requests matching all the given fields (`file`: the path ends with it, or for the CDN is its sha256) */
  count(filter: { method?: string; on?: 'hub' | 'cdn'; file?: string; range?: boolean }): number;
  stop(): Promise<void>;
}

function hubFile(dir: string, name: string, lfsAbove: number): HubFile {
  const bytes = readFileSync(join(dir, name));
  const gitSha1 = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  return { name, bytes, lfs: bytes.length > lfsAbove, sha256: createHash('sha256').update(bytes).digest('hex'), gitSha1 };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
    });
  });
}

/** Send `body` (or the part a Range asks for), honouring the cut and corrupt knobs when `faulty`. */
function serveBytes(req: IncomingMessage, res: ServerResponse, body: Buffer, headers: Record<string, string>, knobs: HubKnobs, faulty: boolean): void {
  let data = body;
  if (faulty && knobs.corrupt) {
    data = Buffer.from(body);
    data[data.length >> 1] ^= 0xff;
  }
  let start = 0;
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m) {
    start = Number(m[1]);
    if (start >= data.length) {
      res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
      return;
    }
  }
  const part = data.subarray(start);
  const status = m ? 206 : 200;
  res.writeHead(status, {
    ...headers,
    'accept-ranges': 'bytes',
    'content-length': String(part.length),
    ...(m ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
  });
  if (req.method === 'HEAD') return void res.end();
  const cut = faulty ? knobs.cut : undefined;
  if (cut && cut.times > 0) {
    cut.times--;
    // Hand the first bytes to the kernel, then close: the client sees a response that ends early.
    res.write(part.subarray(0, cut.bytes), () => (cut.stall ? undefined : res.socket?.destroy()));
    return;
  }
  res.end(part);
}

export async function startHubServer(options: HubServerOptions = {}): Promise<HubServer> {
  const repo = options.repo ?? 'clipmed-test/tiny-quickgelu';
  const source = options.source ?? join(FIXTURES, 'tiny-quickgelu');
  const names = options.files ?? ['open_clip_config.json', 'open_clip_pytorch_model.bin'];
  const files = new Map(names.map((n) => [n, hubFile(source, n, options.lfsAbove ?? 10_000)]));
  const commit = createHash('sha1').update(repo).update([...files.values()].map((f) => f.gitSha1).join()).digest('hex');
  const repos = new Map([[repo, { files, commit }]]);
  for (const x of options.extraRepos ?? []) {
    const xf = new Map(x.files.map((n) => [n, hubFile(x.source, n, options.lfsAbove ?? 10_000)]));
    repos.set(x.repo, { files: xf, commit: createHash('sha1').update(x.repo).update([...xf.values()].map((f) => f.gitSha1).join()).digest('hex') });
  }
  const bySha256 = new Map([...repos.values()].flatMap((r) => [...r.files.values()]).map((f) => [f.sha256, f]));
  const requests: HubRequest[] = [];
  const knobs: HubKnobs = {};
  let cdn = '';

  const record = (req: IncomingMessage, on: 'hub' | 'cdn') =>
    requests.push({ method: req.method ?? '', path: req.url ?? '', on, range: req.headers.range, authorization: req.headers.authorization });

  const cdnHandler = (req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/cdn\/([0-9a-f]{64})(\?.*)?$/.exec(req.url ?? '');
    const f = m && bySha256.get(m[1]);
    if (!f) return void res.writeHead(404).end('no such object');
    if (knobs.cdnRefuse) {
      knobs.cdnRefuse--;
      return void res.writeHead(403).end('Request has expired');
    }
    serveBytes(req, res, f.bytes, { etag: `"${f.sha256}"`, 'content-type': 'application/octet-stream' }, knobs, true);
  };

  const hubHandler = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (url.startsWith('/cdn/')) {
      record(req, 'cdn');
      return cdnHandler(req, res);
    }
    record(req, 'hub');
    if (knobs.hubReset) {
      knobs.hubReset--;
      return void req.socket.destroy();
    }
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.split('?')[0]);
    if (!m) return void res.writeHead(404).end('not a resolve URL');
    if (knobs.token && req.headers.authorization !== `Bearer ${knobs.token}`) {
      return void res.writeHead(401, { 'x-error-message': `Access to model ${repo} is restricted. You must be authenticated to access it.` }).end('gated');
    }
    const [, repoId, revEnc, fileEnc] = m;
    const served = repos.get(repoId);
    if (!served) return void res.writeHead(404, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' }).end();
    const rev = decodeURIComponent(revEnc);
    if (rev !== 'main' && rev !== served.commit) return void res.writeHead(404, { 'x-error-code': 'RevisionNotFound', 'x-error-message': `Invalid rev id: ${rev}` }).end();
    const f = served.files.get(fileEnc.split('/').map(decodeURIComponent).join('/'));
    if (!f) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-error-message': 'Entry not found', 'x-repo-commit': served.commit }).end();
    if (!f.lfs) return serveBytes(req, res, f.bytes, { etag: `"${f.gitSha1}"`, 'x-repo-commit': served.commit, 'content-type': 'text/plain; charset=utf-8' }, knobs, false);
    // The LFS pointer's own git id goes in ETag, as on the hub: a client must prefer X-Linked-Etag.
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${f.sha256}\nsize ${f.bytes.length}\n`;
    const body = `Found. Redirecting to ${cdn}/cdn/${f.sha256}`;
    res.writeHead(302, {
      location: `${cdn}/cdn/${f.sha256}?signature=test`,
      'x-repo-commit': served.commit,
      'x-linked-etag': `"${f.sha256}"`,
      'x-linked-size': String(f.bytes.length),
      etag: `"${createHash('sha1').update(`blob ${pointer.length}\0${pointer}`).digest('hex')}"`,
      'content-length': String(body.length),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const hub = createServer(hubHandler);
  const endpoint = await listen(hub);
  const servers = [hub];
  if (options.separateCdn) {
    const other = createServer((req, res) => {
      record(req, 'cdn');
      cdnHandler(req, res);
    });
    cdn = (await listen(other)).replace('127.0.0.1', options.cdnHost ?? '127.0.0.1');
    servers.push(other);
  } else {
    cdn = endpoint;
  }

  return {
    endpoint,
    cdn,
    repo,
    commit,
    files,
    requests,
    knobs,
    count(filter) {
      return requests.filter((r) => {
        if (filter.method && r.method !== filter.method) return false;
        if (filter.on && r.on !== filter.on) return false;
        if (filter.range !== undefined && !!r.range !== filter.range) return false;
        if (filter.file) {
          const f = files.get(filter.file);
          const path = r.path.split('?')[0];
          if (!path.endsWith(`/${filter.file}`) && !(f && path.endsWith(`/${f.sha256}`))) return false;
        }
        return true;
      }).length;
    },
    async stop() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}

const HUB_ENV = ['HF_ENDPOINT', 'HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'];

/**
 * Point the hub client at `endpoint` the way a user would (HF_ENDPOINT), with a fresh empty cache and HF_HOME in a
 * temporary folder (so no real login token is read) and no token or offline setting; `restore()` undoes it all.
 */
export function useHubEnv(endpoint: string): { home: string; cache: string; restore(): void } {
  const saved = new Map(HUB_ENV.map((k) => [k, process.env[k]]));
  for (const k of HUB_ENV) delete process.env[k];
  const home = mkdtempSync(join(tmpdir(), 'clipmed-hf-home-'));
  process.env.HF_HOME = home;
  process.env.HF_ENDPOINT = endpoint;
  return {
    home,
    cache: join(home, 'hub'),
    restore() {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}
