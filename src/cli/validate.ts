// Checks every command's options before any work starts (a commander `preAction` hook): numbers are numbers in
// range, windows parse, input files exist, output folders exist (created here) and a model name that is almost
// right gets a "did you mean". The same option gets the same check and the same typed error in every command.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, getSpec, listModels, parseWindow } from '../index.ts';

interface NumberRule {
  integer: boolean;
  min: number;
  max: number;
  /** the lower bound itself is not allowed */
  minExclusive?: boolean;
  /** the upper bound itself is not allowed */
  maxExclusive?: boolean;
  /** how the rule reads in an error */
  expected: string;
}

const int = (min: number, max: number, expected: string): NumberRule => ({ integer: true, min, max, expected });

/** Numeric options by their commander attribute name (the same name means the same thing in every command). */
export const NUMBER_RULES: Record<string, NumberRule> = {
  threads: int(1, 1024, 'a whole number of CPU threads from 1 to 1024'),
  batchSize: int(1, 4096, 'a whole number of images per batch from 1 to 4096'),
  frame: int(0, 2 ** 31 - 1, 'a frame index: a whole number from 0'),
  k: int(1, 1_000_000, 'a whole number from 1'),
  shots: int(1, 1_000_000, 'a whole number of images per class from 1'),
  resamples: int(1, 1_000_000, 'a whole number of bootstrap resamples from 1 to 1000000'),
  seed: int(0, 2 ** 32 - 1, 'a whole number from 0 to 4294967295'),
  maxPixels: int(1, Number.MAX_SAFE_INTEGER, 'a whole number of values from 1'),
  alpha: { integer: false, min: 0, max: 1, expected: 'a number from 0 to 1' },
  valFraction: { integer: false, min: 0, max: 1, minExclusive: true, maxExclusive: true, expected: 'a fraction above 0 and below 1' },
  logitScale: { integer: false, min: 0, max: 1e6, minExclusive: true, expected: 'a positive number' },
};

/** Options naming a file that must exist before the command starts. */
const INPUT_FILES = ['manifest', 'corpus', 'probe', 'conformal', 'pixelValues'];
/** Options naming a file to write: its folder is created before the work starts. */
const OUTPUT_FILES = ['out', 'html', 'png', 'npy'];
/** Options naming a folder to write into. */
const OUTPUT_DIRS = ['outDir'];

/** The long flag of an attribute name, for messages: batchSize -> --batch-size. */
export const flagOf = (attr: string) => (attr.length === 1 ? `-${attr}` : `--${attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);

/**
 * Parse a numeric option by its rule; a `ConfigError` naming the flag and what it takes otherwise.
 * @example parseNumberOption('batchSize', '8') // 8
 */
export function parseNumberOption(attr: string, text: string): number {
  const rule = NUMBER_RULES[attr];
  const v = Number(text);
  if (!rule) return v;
  const ok = text.trim() !== '' && Number.isFinite(v) && (!rule.integer || Number.isInteger(v))
    && (rule.minExclusive ? v > rule.min : v >= rule.min) && (rule.maxExclusive ? v < rule.max : v <= rule.max);
  if (!ok) throw new ConfigError(`${flagOf(attr)} '${text}': expected ${rule.expected}`);
  return v;
}

/** Output folder for a file option: created when missing; refused when something else is in the way. */
function ensureFolder(dir: string, flag: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new ConfigError(`${flag}: cannot create the output folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: dir, cause: err });
  }
  if (!statSync(dir).isDirectory()) throw new ConfigError(`${flag}: not a folder`, { file: dir });
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

/**
 * What the user probably meant by a `--model` that is neither a registered name, an `hf-hub:` source nor a
 * path that exists: the registered name in the right case, the registered name (or `hf-hub:`) of a bare hub
 * repository id, or a registered name one or two edits away. Empty when nothing is close.
 * @example modelSuggestions('BiomedCLIP') // ['biomedclip']
 */
export function modelSuggestions(source: string): string[] {
  if (source.startsWith('hf-hub:') || existsSync(source)) return [];
  const names = listModels() as string[];
  if (names.includes(source)) return [];
  const lower = source.toLowerCase();
  const out: string[] = [];
  for (const name of names) if (name.toLowerCase() === lower) out.push(name);
  const [repo, revision] = source.split('@');
  if (/^[\w.-]+\/[\w.-]+$/.test(repo!)) {
    for (const name of names) {
      const s = getSpec(name as Parameters<typeof getSpec>[0]).source;
      if (s.kind === 'hub' && s.repo.toLowerCase() === repo!.toLowerCase()) out.push(name, `hf-hub:${s.repo}${revision ? `@${revision}` : ''}`);
    }
    if (out.length === 0) out.push(`hf-hub:${source}`);
  }
  if (out.length === 0) {
    for (const name of names) if (distance(name.toLowerCase(), lower) <= 2) out.push(name);
  }
  return [...new Set(out)];
}

/** Every check above on a command's parsed options; throws the first `ConfigError`. */
export function validateOptions(opts: Record<string, unknown>): void {
  for (const [attr, value] of Object.entries(opts)) {
    if (typeof value !== 'string') continue;
    if (attr in NUMBER_RULES) parseNumberOption(attr, value);
    else if (attr === 'window') parseWindow(value);
    else if (INPUT_FILES.includes(attr)) {
      if (!existsSync(value)) throw new ConfigError('no such file or folder', { file: value });
      if (statSync(value).isDirectory()) throw new ConfigError(`${flagOf(attr)}: is a folder, expected a file`, { file: value });
    } else if (OUTPUT_FILES.includes(attr)) ensureFolder(dirname(value), flagOf(attr));
    else if (OUTPUT_DIRS.includes(attr)) ensureFolder(value, flagOf(attr));
  }
  if (typeof opts.model === 'string') {
    const s = modelSuggestions(opts.model);
    if (s.length) {
      throw new ConfigError(`model source not found: not a registered name (\`clipmed models\`), a folder or a file; did you mean ${s.map((x) => `--model ${x}`).join(' or ')}?`, { file: opts.model });
    }
  }
}
