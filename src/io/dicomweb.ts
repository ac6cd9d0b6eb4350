// DICOMweb client: QIDO-RS search (application/dicom+json) and WADO-RS retrieval (multipart/related of
// application/dicom instances or application/octet-stream frames), over the global fetch.
// Spec: DICOM PS3.18 (Web Services), sections 10.4 (Retrieve) and 10.6 (Search); multipart bodies: RFC 2046
// section 5.1 and RFC 2387.
//
// URLs that clipmed accepts wherever it accepts a file:
//   dicomweb+http://host:port/dicom-web/studies/<study>[/series/<series>[/instances/<sop>]]   (or dicomweb+https)
// The path before /studies/ is the service root. user:password@ in the URL becomes a basic auth header and
// is never repeated in `source` names or error messages.
import { ConfigError, DecodeError, LimitError, NetworkError } from '../errors.ts';

/** One QIDO-RS result: DICOM JSON (PS3.18 F.2), keyed by 8-hex-digit tag. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

export type DicomWebAuth = { bearer: string } | { username: string; password: string };

export interface DicomWebOptions {
  /** per request, default 30 000 ms */
  timeoutMs?: number;
  auth?: DicomWebAuth;
  /** extra request headers */
  headers?: Record<string, string>;
  /** refuse responses larger than this many bytes (default 2 GiB) */
  maxBytes?: number;
  /** simultaneous instance retrievals when resolving a series or study (default 4) */
  concurrency?: number;
}

const ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const ACCEPT_FRAMES = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';

/**
 * First value of a DICOM JSON attribute as a string (a person name gives its Alphabetic form).
 * @example dicomJsonString({ '00080061': { vr: 'CS', Value: ['CT'] } }, '00080061') // 'CT'
 */
export function dicomJsonString(item: DicomJson, tag: string): string | undefined {
  const v = item[tag.toUpperCase()]?.Value?.[0];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && 'Alphabetic' in v) return String((v as { Alphabetic: unknown }).Alphabetic);
  return String(v);
}

/**
 * A DICOMweb service at `root` (e.g. http://localhost:8042/dicom-web).
 * @example
 * const dw = new DicomWebClient('http://localhost:8042/dicom-web');
 * const studies = await dw.searchStudies({ ModalitiesInStudy: 'CT' });
 * dicomJsonString(studies[0]!, '0020000D') // '1.3.6.1.4.1.5962.1.2.1.20040826185059.5457'
 */
export class DicomWebClient {
  readonly root: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(root: string, readonly options: DicomWebOptions = {}) {
    this.root = root.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxBytes = options.maxBytes ?? 2 ** 31;
    this.headers = { ...options.headers };
    const auth = options.auth;
    if (auth && 'bearer' in auth) this.headers.authorization = `Bearer ${auth.bearer}`;
    else if (auth) this.headers.authorization = `Basic ${base64(`${auth.username}:${auth.password}`)}`;
  }

  /** QIDO-RS /studies */
  searchStudies(query: DicomWebQuery = {}): Promise<DicomJson[]> {
    return this.search('/studies', query);
  }

  /** QIDO-RS /studies/{study}/series, or /series across all studies */
  searchSeries(study?: string, query: DicomWebQuery = {}): Promise<DicomJson[]> {
    return this.search(study ? `/studies/${enc(study)}/series` : '/series', query);
  }

  /** QIDO-RS /studies/{study}/series/{series}/instances (or a wider level when UIDs are left out) */
  searchInstances(study?: string, series?: string, query: DicomWebQuery = {}): Promise<DicomJson[]> {
    const path = study ? (series ? `/studies/${enc(study)}/series/${enc(series)}/instances` : `/studies/${enc(study)}/instances`) : '/instances';
    return this.search(path, query);
  }

  /** WADO-RS: one instance as stored (any transfer syntax). */
  async retrieveInstance(study: string, series: string, instance: string): Promise<Uint8Array> {
    const parts = await this.retrieve(`/studies/${enc(study)}/series/${enc(series)}/instances/${enc(instance)}`, ACCEPT_DICOM);
    if (parts.length !== 1) throw new DecodeError(`WADO-RS returned ${parts.length} parts for one instance`, { file: this.root });
    return parts[0]!.body;
  }

  /** WADO-RS: every instance of a series (or of a study when series is left out), in the server's order. */
  async retrieveAll(study: string, series?: string): Promise<Uint8Array[]> {
    const path = series ? `/studies/${enc(study)}/series/${enc(series)}` : `/studies/${enc(study)}`;
    return (await this.retrieve(path, ACCEPT_DICOM)).map((p) => p.body);
  }

  /** WADO-RS frames (1-based numbers): the encoded pixel data of each frame, as stored. */
  async retrieveFrames(study: string, series: string, instance: string, frames: number[]): Promise<Uint8Array[]> {
    if (frames.length === 0 || frames.some((f) => !Number.isInteger(f) || f < 1)) throw new ConfigError(`frames ${frames.join(',')}: expected 1-based frame numbers`);
    const path = `/studies/${enc(study)}/series/${enc(series)}/instances/${enc(instance)}/frames/${frames.join(',')}`;
    return (await this.retrieve(path, ACCEPT_FRAMES)).map((p) => p.body);
  }

  private async search(path: string, query: DicomWebQuery): Promise<DicomJson[]> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
    const res = await this.request(path + (qs ? `?${qs}` : ''), 'application/dicom+json, application/json');
    if (res.status === 204) return [];
    const text = new TextDecoder().decode(await this.body(res, path));
    try {
      const json: unknown = text.trim() === '' ? [] : JSON.parse(text);
      if (!Array.isArray(json)) throw new Error('not an array');
      return json as DicomJson[];
    } catch (err) {
      throw new DecodeError(`QIDO-RS ${path}: response is not a DICOM JSON array (${(err as Error).message})`, { file: this.root, cause: err });
    }
  }

  private async retrieve(path: string, accept: string): Promise<MultipartPart[]> {
    const res = await this.request(path, accept);
    const type = res.headers.get('content-type') ?? '';
    return parseMultipart(await this.body(res, path), type, this.root + path);
  }

  private async request(path: string, accept: string): Promise<Response> {
    const url = this.root + path;
    let res: Response;
    try {
      res = await fetch(url, { headers: { ...this.headers, accept }, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const e = err as Error;
      const why = e.name === 'TimeoutError' ? `timed out after ${this.timeoutMs} ms` : `${e.message}${e.cause ? ` (${(e.cause as Error).message ?? e.cause})` : ''}`;
      throw new NetworkError(`GET failed: ${why}`, { file: url, cause: err });
    }
    if (!res.ok) {
      const detail = (await res.text().catch(() => '')).slice(0, 300);
      throw new NetworkError(`GET: HTTP ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`, { file: url, status: res.status });
    }
    return res;
  }

  /** The body, read as it streams and abandoned as soon as it passes maxBytes (a chunked body has no length to check first). */
  private async body(res: Response, path: string): Promise<Uint8Array> {
    const file = this.root + path;
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (length > this.maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new LimitError(`response of ${length} bytes exceeds maxBytes ${this.maxBytes}`, { file });
    }
    if (!res.body) return new Uint8Array(0);
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > this.maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new LimitError(`response passed maxBytes ${this.maxBytes} after ${total} bytes (it gave ${Number.isNaN(length) ? 'no Content-Length' : `Content-Length ${length}`})`, { file });
        }
        chunks.push(value);
      }
    } catch (err) {
      if (err instanceof LimitError) throw err;
      throw new NetworkError(`reading the response failed: ${(err as Error).message}`, { file, cause: err });
    }
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

export type DicomWebQuery = Record<string, string | number | boolean>;

export interface MultipartPart {
  headers: Record<string, string>;
  body: Uint8Array;
}

/**
 * Split a multipart/related body into parts (RFC 2046 5.1.1): parts are separated by CRLF "--" boundary, the
 * last delimiter has "--" after it, and each part is MIME headers, an empty line, then the content.
 * @example parseMultipart(body, 'multipart/related; type="application/dicom"; boundary=abc', url).length // 1
 */
export function parseMultipart(body: Uint8Array, contentType: string, file: string): MultipartPart[] {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!/^multipart\//i.test(contentType.trim()) || !m) throw new DecodeError(`expected a multipart response with a boundary, got content-type '${contentType}'`, { file });
  const delimiter = ascii(`--${m[1] ?? m[2]}`);
  const parts: MultipartPart[] = [];
  let at = indexOf(body, delimiter, 0);
  if (at < 0) throw new DecodeError('multipart body has no boundary delimiter', { file });
  for (;;) {
    let p = at + delimiter.length;
    if (body[p] === 0x2d && body[p + 1] === 0x2d) return parts; // closing delimiter
    while (p < body.length && body[p] !== 0x0a) p++; // transport padding up to the line end
    const headerEnd = indexOf(body, ascii('\r\n\r\n'), p + 1);
    const noHeaders = body[p + 1] === 0x0d && body[p + 2] === 0x0a;
    if (headerEnd < 0 && !noHeaders) throw new DecodeError(`multipart part ${parts.length + 1} has no end of headers`, { file });
    const start = noHeaders ? p + 3 : headerEnd + 4;
    const headers = noHeaders ? {} : parseHeaders(new TextDecoder('latin1').decode(body.subarray(p + 1, headerEnd)));
    const close = ascii(`\r\n${new TextDecoder().decode(delimiter)}`);
    // Trust a part's Content-Length when the delimiter is where it says, so content can never be cut short.
    const stated = Number(headers['content-length'] ?? NaN);
    const next = Number.isInteger(stated) && matchesAt(body, close, start + stated) ? start + stated : indexOf(body, close, start);
    if (next < 0) throw new DecodeError(`multipart part ${parts.length + 1} is not closed by a boundary (truncated response?)`, { file });
    parts.push({ headers, body: body.slice(start, next) });
    at = next + 2;
  }
}

function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

function matchesAt(hay: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at < 0 || at + needle.length > hay.length) return false;
  for (let j = 0; j < needle.length; j++) if (hay[at + j] !== needle[j]) return false;
  return true;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  outer: for (let i = hay.indexOf(first!, from); i >= 0 && i <= last; i = hay.indexOf(first!, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const enc = encodeURIComponent;
const base64 = (s: string): string => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

/** What a dicomweb+http(s) URL points at. */
export interface DicomWebTarget {
  /** http(s) service root, without credentials */
  root: string;
  study: string;
  series?: string;
  instance?: string;
  /** from user:password@ in the URL */
  auth?: DicomWebAuth;
}

/**
 * True for dicomweb+http:// and dicomweb+https:// URLs.
 * @example isDicomWebUrl('dicomweb+https://pacs/dicom-web/studies/1.2') // true
 */
export function isDicomWebUrl(text: string): boolean {
  return /^dicomweb\+https?:\/\//i.test(text);
}

/**
 * Split a dicomweb+http(s) URL into service root and UIDs.
 * @example parseDicomWebUrl('dicomweb+http://pacs:8042/dicom-web/studies/1.2/series/1.3') // { root: 'http://pacs:8042/dicom-web', study: '1.2', series: '1.3' }
 */
export function parseDicomWebUrl(text: string): DicomWebTarget {
  if (!isDicomWebUrl(text)) throw new ConfigError(`'${text}': expected dicomweb+http://host/root/studies/<study>[/series/<series>[/instances/<sop>]]`);
  let url: URL;
  try {
    url = new URL(text.replace(/^dicomweb\+/i, ''));
  } catch (err) {
    throw new ConfigError(`'${text}' is not a valid URL`, { cause: err });
  }
  const auth: DicomWebAuth | undefined = url.username ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined;
  url.username = '';
  url.password = '';
  const m = /^(.*?)\/studies\/([^/]+)(?:\/series\/([^/]+)(?:\/instances\/([^/]+))?)?\/?$/.exec(url.pathname);
  if (!m || url.search || url.hash) throw new ConfigError(`'${safeUrl(text)}': expected .../studies/<study>[/series/<series>[/instances/<sop>]] with no query`);
  const target: DicomWebTarget = { root: `${url.origin}${m[1]}`, study: decodeURIComponent(m[2]!) };
  if (m[3]) target.series = decodeURIComponent(m[3]);
  if (m[4]) target.instance = decodeURIComponent(m[4]);
  if (auth) target.auth = auth;
  return target;
}

/** The URL with any user:password@ removed, for messages and sources. */
function safeUrl(text: string): string {
  return text.replace(/^(dicomweb\+https?:\/\/)[^@/]*@/i, '$1');
}

/**
 * Fetch every instance a dicomweb+http(s) URL names (an instance, a series, or a whole study), ordered by
 * series number then instance number. Each source is the instance's own dicomweb URL.
 * @example
 * const files = await resolveDicomWebUrl('dicomweb+http://localhost:8042/dicom-web/studies/1.2.3');
 * files[0].source // 'dicomweb+http://localhost:8042/dicom-web/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5'
 */
export async function resolveDicomWebUrl(url: string, options: DicomWebOptions = {}): Promise<Array<{ source: string; bytes: Uint8Array }>> {
  const t = parseDicomWebUrl(url);
  const client = new DicomWebClient(t.root, { ...options, auth: options.auth ?? t.auth });
  const scheme = `dicomweb+${t.root}`;
  const sourceOf = (series: string, sop: string): string => `${scheme}/studies/${enc(t.study)}/series/${enc(series)}/instances/${enc(sop)}`;
  if (t.series && t.instance) return [{ source: sourceOf(t.series, t.instance), bytes: await client.retrieveInstance(t.study, t.series, t.instance) }];

  const seriesUids = t.series
    ? [t.series]
    : sortBy(await client.searchSeries(t.study), '00200011').map((s) => uidOf(s, '0020000E', t.root));
  const list: Array<{ series: string; sop: string }> = [];
  for (const series of seriesUids) {
    for (const inst of sortBy(await client.searchInstances(t.study, series), '00200013')) list.push({ series, sop: uidOf(inst, '00080018', t.root) });
  }
  if (list.length === 0) throw new NetworkError('no instances found', { file: safeUrl(url), status: 404 });
  const out = new Array<{ source: string; bytes: Uint8Array }>(list.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const i = next++;
      const { series, sop } = list[i]!;
      out[i] = { source: sourceOf(series, sop), bytes: await client.retrieveInstance(t.study, series, sop) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, list.length) }, worker));
  return out;
}

function uidOf(item: DicomJson, tag: string, file: string): string {
  const uid = dicomJsonString(item, tag);
  if (!uid) throw new DecodeError(`QIDO-RS result without (${tag.slice(0, 4)},${tag.slice(4)})`, { file });
  return uid;
}

/** Stable sort by a numeric attribute (missing values last), then by the UIDs' order from the server. */
function sortBy(items: DicomJson[], tag: string): DicomJson[] {
  const key = (x: DicomJson): number => {
    const v = Number(dicomJsonString(x, tag));
    return Number.isFinite(v) ? v : Infinity;
  };
  return items.map((x, i) => ({ x, i, k: key(x) })).sort((a, b) => a.k - b.k || a.i - b.i).map((e) => e.x);
}
