// HTTP for the hub client over node:http/https: one request at a time, redirects followed by hand so that the
// token goes to the hub's own origin only (never to the CDN a large file redirects to), idle timeouts, and the
// hub's error headers turned into messages that say what to do.
// Protocol as huggingface_hub uses it (file_download.py: get_hf_file_metadata): HEAD .../resolve/REV/FILE without
// following the redirect; X-Repo-Commit, X-Linked-Etag / ETag, X-Linked-Size / Content-Length; then GET the
// redirect's Location.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { NetworkError } from '../../errors.ts';
import { modelPage, type HubSettings } from './settings.ts';

const MAX_REDIRECTS = 10;
const USER_AGENT = `clipmed/0.1.0; node/${process.versions.node}`;

/** What a request is about, for the messages of its errors. */
export interface RequestContext {
  settings: HubSettings;
  repo: string;
  revision: string;
  file: string;
  /** the resolve URL, named in every error */
  url: string;
}

export interface FileMetadata {
  commit: string;
  /** content hash without quotes: sha256 (64 hex) for LFS files, the git blob sha1 (40 hex) for others */
  etag: string;
  /** a weak validator (W/"..."): it says the content is equivalent, not which bytes it is, so it never names a blob */
  weak?: boolean;
  size?: number;
  /** where the bytes are: the redirect's Location, or the resolve URL itself */
  downloadUrl: string;
}

/** Marks the 404 of a file that is absent from the repo (not of the repo or revision), so alternatives go on. */
const missingFiles = new WeakSet<Error>();
export const isMissingFile = (e: unknown): boolean => e instanceof Error && missingFiles.has(e);

/** Errors below HTTP (refused, reset, timed out, DNS): worth a retry, and the cue to fall back to the cache. */
const transportErrors = new WeakSet<Error>();
export const isTransportError = (e: unknown): boolean => e instanceof Error && transportErrors.has(e);

/** A NetworkError marked as a transport failure (see isTransportError). */
export function transportError(message: string, ctx: RequestContext, cause?: unknown): NetworkError {
  const err = new NetworkError(message, { file: ctx.url, cause });
  transportErrors.add(err);
  return err;
}

function transport(ctx: RequestContext, url: string, cause: unknown): NetworkError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return transportError(`cannot reach ${new URL(url).origin}: ${why}`, ctx, cause);
}

/** Request headers for `url`: the token only when the URL has the endpoint's origin. */
function headersFor(url: URL, settings: HubSettings, extra: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...extra };
  if (settings.token && url.origin === new URL(settings.endpoint).origin) h.authorization = `Bearer ${settings.token}`;
  return h;
}

/** Where a redirect's Location points, refused unless http(s) (a `file:` or `data:` URL must never be read). */
export function redirectTarget(location: string, from: URL, ctx: RequestContext): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch (cause) {
    throw new NetworkError(`${from.origin} redirected to ${JSON.stringify(location.slice(0, 200))}, which is not a URL`, { file: ctx.url, cause });
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new NetworkError(`${from.origin} redirected to a ${next.protocol} URL; only http and https redirects are followed`, { file: ctx.url });
  }
  return next;
}

/** One request, no redirect following; resolves with the response once its headers are in. */
export function send(method: 'HEAD' | 'GET', url: URL, ctx: RequestContext, extra: Record<string, string>, timeoutMs: number): Promise<IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new NetworkError(`refusing to request a ${url.protocol} URL; only http and https are used`, { file: ctx.url }));
  }
  return new Promise((resolve, reject) => {
    const fn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let response: IncomingMessage | undefined;
    const req = fn(url, { method, headers: headersFor(url, ctx.settings, extra) }, (res) => {
      response = res;
      resolve(res);
    });
    // An idle timeout (no bytes for timeoutMs), not a total one: a large file may take long but must keep moving.
    req.setTimeout(timeoutMs, () => {
      const err = new Error(`no data for ${timeoutMs / 1000} s (HF_HUB_DOWNLOAD_TIMEOUT / HF_HUB_ETAG_TIMEOUT)`);
      response?.destroy(err); // the body's reader sees this reason rather than a bare 'aborted'
      req.destroy(err);
    });
    req.on('error', (e) => reject(transport(ctx, url.href, e)));
    req.end();
  });
}

/** GET or HEAD following redirects; the final response (2xx or an error status) and the URL that gave it. */
export async function follow(method: 'HEAD' | 'GET', start: string, ctx: RequestContext, extra: Record<string, string>, timeoutMs: number): Promise<{ res: IncomingMessage; url: URL }> {
  let url = new URL(start);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await send(method, url, ctx, extra, timeoutMs);
    const status = res.statusCode ?? 0;
    if (status < 300 || status >= 400 || !res.headers.location) return { res, url };
    res.resume();
    url = redirectTarget(res.headers.location, url, ctx);
  }
  throw new NetworkError(`more than ${MAX_REDIRECTS} redirects`, { file: ctx.url });
}

export function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `"abc"` and `W/"abc"` → `abc`. */
export function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** The error for a hub response that is not a success, with the hub's X-Error-Code taken into account. */
export function statusError(res: IncomingMessage, ctx: RequestContext): NetworkError {
  const status = res.statusCode ?? 0;
  const code = header(res.headers, 'x-error-code');
  const detail = header(res.headers, 'x-error-message');
  const said = detail ? ` (the hub says: ${detail})` : '';
  const { repo, revision, file, settings } = ctx;
  const page = modelPage(settings.endpoint, repo);
  if (status === 401 || status === 403 || code === 'GatedRepo') {
    const tokenNote = settings.token
      ? 'the token in HF_TOKEN was refused: check that it is valid and that its account has accepted the licence'
      : 'no token is set: set HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) to an access token from https://huggingface.co/settings/tokens';
    const repoNote = code === 'RepoNotFound' ? `; or the repository ${repo} does not exist (check the name)` : '';
    return new NetworkError(
      `access to ${repo} denied (HTTP ${status}): the model may be gated or private. Accept its licence on the model page ${page} ` +
        `while logged in, then ${tokenNote}${repoNote}${said}`,
      { file: ctx.url, status },
    );
  }
  if (status === 404) {
    if (code === 'RepoNotFound') return new NetworkError(`repository ${repo} not found on ${settings.endpoint} (HTTP 404)${said}`, { file: ctx.url, status });
    if (code === 'RevisionNotFound') return new NetworkError(`revision ${JSON.stringify(revision)} not found in ${repo} (HTTP 404)${said}`, { file: ctx.url, status });
    const err = new NetworkError(`file ${file} not found in ${repo} at revision ${revision} (HTTP 404)${said}`, { file: ctx.url, status });
    missingFiles.add(err);
    return err;
  }
  const err = new NetworkError(`HTTP ${status} ${res.statusMessage ?? ''} from ${settings.endpoint} for ${file} in ${repo}@${revision}${said}`, { file: ctx.url, status });
  // The server's trouble, not the request's: retried, and like a dropped connection it allows the cache fallback.
  if (status >= 500 || status === 429) transportErrors.add(err);
  return err;
}

/** HEAD, tried a second time after a reset: a pooled keep-alive connection the server has just closed fails at once. */
async function headOnceMore(url: URL, ctx: RequestContext): Promise<IncomingMessage> {
  try {
    return await send('HEAD', url, ctx, {}, ctx.settings.metadataTimeoutMs);
  } catch (e) {
    if (((e as Error).cause as NodeJS.ErrnoException | undefined)?.code !== 'ECONNRESET') throw e;
    return send('HEAD', url, ctx, {}, ctx.settings.metadataTimeoutMs);
  }
}

/**
 * HEAD the resolve URL and read where the file is and what it hashes to. A redirect that carries the hub's
 * headers (the usual 302 to the CDN for LFS files) answers directly; other redirects (a renamed repo) are followed.
 */
export async function fileMetadata(ctx: RequestContext): Promise<FileMetadata> {
  let url = new URL(ctx.url);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await headOnceMore(url, ctx);
    res.resume();
    const status = res.statusCode ?? 0;
    const h = res.headers;
    const commit = header(h, 'x-repo-commit');
    const etag = header(h, 'x-linked-etag') ?? header(h, 'etag');
    const isRedirect = status >= 300 && status < 400 && h.location;
    if (isRedirect && !commit) {
      url = redirectTarget(h.location!, url, ctx);
      continue;
    }
    if (status >= 400) throw statusError(res, ctx);
    if (!commit || !etag) {
      throw new NetworkError(`${url.origin} answered without ${commit ? 'an ETag' : 'X-Repo-Commit'}: is HF_ENDPOINT (${ctx.settings.endpoint}) a Hugging Face hub?`, { file: ctx.url, status });
    }
    // Both become names on disk: a commit folder and a blob file.
    if (!/^[0-9a-f]{40}$/.test(commit)) throw new NetworkError(`X-Repo-Commit ${JSON.stringify(commit)} is not a commit sha`, { file: ctx.url, status });
    if (!/^[A-Za-z0-9_.-]+$/.test(normalizeEtag(etag)) || normalizeEtag(etag).startsWith('.')) {
      throw new NetworkError(`ETag ${JSON.stringify(etag)} is not a content hash`, { file: ctx.url, status });
    }
    // The size bounds the download and checks it: a redirect's own Content-Length is the length of its body, not
    // of the file, so a redirect must say X-Linked-Size (huggingface_hub refuses a file without a size too).
    const sizeText = isRedirect ? header(h, 'x-linked-size') : header(h, 'x-linked-size') ?? header(h, 'content-length');
    if (sizeText === undefined || !/^\d{1,15}$/.test(sizeText)) {
      const which = isRedirect ? 'its redirect has no X-Linked-Size' : 'the answer has neither X-Linked-Size nor Content-Length';
      throw new NetworkError(`the hub did not say how large ${ctx.file} is (${which}${sizeText === undefined ? '' : `, got ${JSON.stringify(sizeText.slice(0, 40))}`}); a download without a size cannot be bounded or checked`, { file: ctx.url, status });
    }
    return {
      commit,
      etag: normalizeEtag(etag),
      weak: /^W\//.test(etag.trim()),
      size: Number(sizeText),
      downloadUrl: isRedirect ? redirectTarget(h.location!, url, ctx).href : url.href,
    };
  }
  throw new NetworkError(`more than ${MAX_REDIRECTS} redirects`, { file: ctx.url });
}
