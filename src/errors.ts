// Typed errors. Each names what was wrong, what was expected and what came, and (where there is one) the file.
// One place, `httpStatus`, maps them to HTTP status codes for the server.

export class ClipmedError extends Error {
  /** The file or URL the error is about, when there is one. */
  readonly file?: string;
  constructor(message: string, options?: { file?: string; cause?: unknown }) {
    super(options?.file ? `${options.file}: ${message}` : message, options?.cause ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.file = options?.file;
  }
}

/** A configuration or argument that is wrong or missing. */
export class ConfigError extends ClipmedError {}
/** A tensor or array whose shape is not what an operation needs. */
export class ShapeError extends ClipmedError {}
/** A file that cannot be decoded: truncated, corrupted, or not what it claims to be. */
export class DecodeError extends ClipmedError {}
/** A valid file that uses something clipmed does not support (a transfer syntax, a dtype, a legacy format). */
export class UnsupportedError extends ClipmedError {}
/** A checkpoint that tries to do something a weights file must never do (e.g. name a global outside the allowlist). */
export class SecurityError extends ClipmedError {}
/** A checkpoint whose keys or shapes do not match the architecture. */
export class CheckpointError extends ClipmedError {}
/** Input that is too large to process within the configured limits. */
export class LimitError extends ClipmedError {}
/** A network or hub failure. */
export class NetworkError extends ClipmedError {
  readonly status?: number;
  constructor(message: string, options?: { file?: string; cause?: unknown; status?: number }) {
    super(message, options);
    this.status = options?.status;
  }
}

/** HTTP status code for an error, for the server. */
export function httpStatus(err: unknown): number {
  if (err instanceof ConfigError || err instanceof ShapeError) return 400;
  if (err instanceof DecodeError || err instanceof CheckpointError) return 422;
  if (err instanceof UnsupportedError) return 415;
  if (err instanceof SecurityError) return 422;
  if (err instanceof LimitError) return 413;
  if (err instanceof NetworkError) return 502;
  return 500;
}
