// `hf-hub:ORG/NAME[@REVISION]` sources and the settings a Hugging Face hub client reads from the environment.
// The variables, their defaults and the cache location follow huggingface_hub's documented behaviour
// (huggingface_hub/constants.py: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE, timeouts), so a
// user's existing Python setup and cache work unchanged.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../errors.ts';

export const HUB_PREFIX = 'hf-hub:';
export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubSpec {
  /** `ORG/NAME` (or a legacy single `NAME`) */
  repo: string;
  /** branch, tag or commit sha; `main` when the spec gives none */
  revision: string;
}

/** Progress of one file: bytes on disk so far and the full size (undefined when the server does not say). */
export interface HubProgress {
  file: string;
  done: number;
  total?: number;
}

export interface HubSettings {
  /** e.g. https://huggingface.co (no trailing slash) */
  endpoint: string;
  token?: string;
  /** the hub cache folder that holds `models--ORG--NAME` */
  cacheDir: string;
  offline: boolean;
  /** idle timeout of a metadata (HEAD) request, ms */
  metadataTimeoutMs: number;
  /** idle timeout of a download, ms (no data for this long aborts and retries) */
  downloadTimeoutMs: number;
  /** retries after a network error during a download, each resuming where the last stopped */
  retries: number;
  /** first wait before a retry, ms; doubled each time */
  retryDelayMs: number;
  /**
   * slowest download accepted: fewer than this many bytes per second over any `speedWindowMs` ends the attempt
   * (a server that trickles a byte every few seconds never trips the idle timeout); 0 turns the check off
   */
  minBytesPerSecond: number;
  /** the window the download speed is measured over, ms */
  speedWindowMs: number;
}

/** Settings a caller may pass instead of the environment. */
export type HubSettingsOptions = Partial<HubSettings>;

const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Parse `hf-hub:ORG/NAME[@REVISION]`.
 * @example parseHubSpec('hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224@main') // { repo: 'microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224', revision: 'main' }
 */
export function parseHubSpec(spec: string): HubSpec {
  if (!spec.startsWith(HUB_PREFIX)) throw new ConfigError(`not a hub source: expected ${HUB_PREFIX}ORG/NAME[@REVISION], got ${JSON.stringify(spec)}`);
  const body = spec.slice(HUB_PREFIX.length);
  const at = body.indexOf('@');
  const repo = at < 0 ? body : body.slice(0, at);
  const revision = at < 0 ? 'main' : body.slice(at + 1);
  const parts = repo.split('/');
  // Hub repo names: letters, digits, '-', '_', '.'; at most 96 characters; no '--' or '..' (the cache uses '--' as
  // the separator, and '..' would climb out of it).
  const bad = parts.length > 2 || repo.length > 96 || parts.some((p) => !NAME.test(p) || p.includes('--') || p.includes('..') || /^[-.]|[-.]$/.test(p));
  if (bad) throw new ConfigError(`invalid hub repo id ${JSON.stringify(repo)} in ${JSON.stringify(spec)}: expected ORG/NAME of letters, digits, '-', '_' and '.'`);
  if (!revision || revision.split('/').some((p) => p === '' || p === '.' || p === '..') || /[\s\\]/.test(revision)) {
    throw new ConfigError(`invalid revision ${JSON.stringify(revision)} in ${JSON.stringify(spec)}: expected a branch, tag or commit sha`);
  }
  return { repo, revision };
}

/**
 * True for `hf-hub:...` strings.
 * @example isHubSpec('hf-hub:timm/ViT-B-16-SigLIP') // true
 */
export function isHubSpec(source: string): boolean {
  return source.startsWith(HUB_PREFIX);
}

/** A full 40-hex commit sha (a revision that names one snapshot and never moves). */
export function isCommitSha(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/** huggingface_hub's truthy environment values. */
function envTrue(v: string | undefined): boolean {
  return ['1', 'ON', 'YES', 'TRUE'].includes((v ?? '').toUpperCase());
}

function envSeconds(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback * 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name}=${JSON.stringify(v)}: expected a positive number of seconds`);
  return n * 1000;
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hfHome(): string {
  if (process.env.HF_HOME) return process.env.HF_HOME;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
}

/**
 * The hub cache: `$HF_HUB_CACHE` (or the older `$HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`.
 * @example hubCacheDir() // '/home/me/.cache/huggingface/hub' with none of the variables set
 */
export function hubCacheDir(): string {
  return process.env.HF_HUB_CACHE || process.env.HUGGINGFACE_HUB_CACHE || join(hfHome(), 'hub');
}

/** `$HF_TOKEN`, `$HUGGING_FACE_HUB_TOKEN`, else the token file `huggingface-cli login` writes. */
export function hubToken(): string | undefined {
  const fromEnv = process.env.HF_TOKEN || process.env.HUGGING_FACE_HUB_TOKEN;
  if (fromEnv) return fromEnv.trim();
  const file = process.env.HF_TOKEN_PATH || join(hfHome(), 'token');
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined; // no saved login: anonymous access, which is what public models need
  }
}

/**
 * The settings in effect: `options` first, then the environment, then huggingface_hub's defaults.
 * @example hubSettings().endpoint // 'https://huggingface.co' unless HF_ENDPOINT says otherwise
 */
export function hubSettings(options: HubSettingsOptions = {}): HubSettings {
  const endpoint = (options.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  try {
    const u = new URL(endpoint);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`HF_ENDPOINT=${JSON.stringify(endpoint)}: expected an http(s) URL such as ${DEFAULT_ENDPOINT}`);
  }
  return {
    endpoint,
    token: 'token' in options ? options.token : hubToken(),
    cacheDir: options.cacheDir ?? hubCacheDir(),
    offline: options.offline ?? envTrue(process.env.HF_HUB_OFFLINE ?? process.env.TRANSFORMERS_OFFLINE),
    metadataTimeoutMs: options.metadataTimeoutMs ?? envSeconds('HF_HUB_ETAG_TIMEOUT', 10),
    downloadTimeoutMs: options.downloadTimeoutMs ?? envSeconds('HF_HUB_DOWNLOAD_TIMEOUT', 10),
    retries: options.retries ?? 5,
    retryDelayMs: options.retryDelayMs ?? 500,
    minBytesPerSecond: options.minBytesPerSecond ?? 1024,
    speedWindowMs: options.speedWindowMs ?? 60_000,
  };
}

/** `https://huggingface.co/ORG/NAME/resolve/REVISION/FILE`, with the revision and each path part escaped. */
export function resolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** The model's page, where a gated model's licence is accepted. */
export function modelPage(endpoint: string, repo: string): string {
  return `${endpoint}/${repo}`;
}
