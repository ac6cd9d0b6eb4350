// Run a snippet of TypeScript in a fresh Node process and report what it printed and its peak resident memory,
// for the tests whose point is that a hostile input does not make clipmed allocate gigabytes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** the JSON the snippet passed to `report(...)` */
  result: unknown;
  /** peak RSS of the child, MiB (process.resourceUsage().maxRSS at its end) */
  maxRssMiB: number;
  stderr: string;
}

/**
 * `body` runs as an ES module with `report(value)` in scope and `$ROOT` replaced by the checkout's path.
 * @example runChild(`report(1 + 1)`).result // 2
 */
export function runChild(body: string, env: Record<string, string> = {}): ChildResult {
  const dir = mkdtempSync(join(tmpdir(), 'clipmed-child-'));
  const script = join(dir, 'child.mts');
  writeFileSync(script, `
    const report = (value: unknown) => process.stdout.write('\\n@@' + JSON.stringify({ value, maxRSS: process.resourceUsage().maxRSS }) + '\\n');
    ${body.replaceAll('$ROOT', ROOT)}
  `);
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
    const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('@@'));
    const parsed = line ? (JSON.parse(line.slice(2)) as { value: unknown; maxRSS: number }) : undefined;
    return { status: r.status, signal: r.signal, result: parsed?.value, maxRssMiB: parsed ? parsed.maxRSS / 1024 : NaN, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The outcome of an async call as plain data: `{ ok: ... }` or `{ error: name, message }`. */
export const OUTCOME = `
  async function outcome(f: () => unknown): Promise<unknown> {
    try {
      const v = await f();
      return { ok: true, value: v };
    } catch (e) {
      return { error: (e as Error)?.constructor?.name ?? typeof e, message: String((e as Error)?.message ?? e) };
    }
  }
`;
