// What the command line prints about errors: typed, one line, safe for a terminal and free of secrets.
// Names inside files (pickle globals, zip members, tensor names, DICOM strings) can hold escape codes, and a
// DICOMweb URL can hold a password: every error line goes through `safeText` before it is written.
import { ClipmedError, ConfigError } from '../index.ts';

/**
 * Control characters (C0 but tab, DEL, C1) and bidirectional overrides, shown as escapes, so that text taken
 * from a file cannot move the cursor, change colours or reorder what the terminal shows.
 * @example sanitize('os.\u001b[2Jsystem') // 'os.\\x1b[2Jsystem'
 */
export function sanitize(text: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (keepNewlines && c === '\n') return c;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * The password of every URL in the text replaced by `***` (user names stay: they say which account failed).
 * @example redact('dicomweb+http://alice:s3cret@pacs/studies/1') // 'dicomweb+http://alice:***@pacs/studies/1'
 */
export function redact(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:"\\]*):([^\s/?#@"\\]*)@/gi, (_, scheme: string, user: string) => `${scheme}${user}:***@`);
}

/** Text from anywhere (a file, a URL, an error) made fit for the terminal and the logs. */
export const safeText = (text: string, keepNewlines = false) => sanitize(redact(text), keepNewlines);

/** A line of results on stdout: passwords redacted, control characters escaped (line breaks kept). */
export function say(text: string): void {
  process.stdout.write(`${safeText(text, true)}\n`);
}

/**
 * A result as JSON on stdout: passwords redacted; C1 controls and bidirectional overrides written as \u escapes
 * (JSON.stringify leaves them raw), so that the JSON parses to the same strings and shows safely on a terminal.
 */
export function printJson(value: unknown, indent?: number): void {
  const text = redact(JSON.stringify(value, null, indent));
  process.stdout.write(`${text.replace(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`);
}

/** Every string inside a JSON-able value with URL passwords redacted (for `--json` output). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}

const SYSTEM_REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a folder, expected a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
};

/**
 * A Node system error about a file (ENOENT, EACCES, ...) as the typed error the library raises for the same
 * case (`ConfigError: <file>: no such file or folder`), so that every command says it the same way.
 */
export function typedError(err: unknown): unknown {
  if (err instanceof ClipmedError || !(err instanceof Error)) return err;
  const e = err as NodeJS.ErrnoException;
  const reason = e.code ? SYSTEM_REASONS[e.code] : undefined;
  if (reason) return new ConfigError(reason, { file: e.path, cause: err });
  return err;
}

/** `Name: message` of an error, typed, redacted and sanitised: one line for a list of failures. */
export function describeError(err: unknown): string {
  const e = typedError(err);
  return safeText(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
}

/** Piping into `head` closes stdout early: stop quietly, as other command-line tools do. */
export function exitQuietlyOnEpipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}
