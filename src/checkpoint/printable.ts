// Names read from a checkpoint (pickle globals, zip entries, tensor keys) go into error messages that reach a
// terminal: control characters (an ESC could rewrite the screen or hide text) and bidirectional overrides are
// shown as escapes, and very long names are cut.

/**
 * `s` with C0/C1 controls, DEL and bidi controls written as \u escapes, cut to `max` characters.
 * @example printable('a\u001b[2Jb') // 'a\\u001b[2Jb'
 */
export function printable(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const safe = s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return safe.length > max ? `${safe.slice(0, max)}… (${safe.length} characters)` : safe;
}
