// Starting `clipmed serve` as a user does, on a random loopback port, for the server and browser tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DATA, FIXTURES } from '../helpers/reference.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = join(ROOT, 'bin/clipmed.js');
export const MODEL = join(FIXTURES, 'tiny-quickgelu');
export const XRAYS = join(DATA, 'pneumonia-cxr/test');

export interface Served {
  url: string;
  proc: ChildProcess;
  /** what the server wrote to stdout (JSON log lines) so far */
  stdout(): string;
  stderr(): string;
  /** send a signal and wait for the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `clipmed serve --port 0 ...args`; resolves once it prints the address it serves at. */
export function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let signalled = false;
  proc.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (d) => {
      err += d;
      const m = /serving .*? at (http:\/\/[\w.:[\]-]+)/.exec(err);
      if (m) {
        resolve({
          url: m[1]!,
          proc,
          stdout: () => out,
          stderr: () => err,
          stop: async (signal = 'SIGTERM') => {
            if (!signalled && proc.exitCode === null) proc.kill(signal);
            signalled = true;
            return exited;
          },
        });
      }
    });
    proc.on('exit', (code) => reject(new Error(`clipmed serve exited with ${code} before serving:\n${err}`)));
  });
}

/** `clipmed ...args` run in `cwd`, so that inputs named relative to it print as the server names uploads. */
export function clipmedIn(cwd: string, env: Record<string, string>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
