#!/usr/bin/env node
// The clipmed command. In a checkout (the TypeScript sources and tsx are there) it runs the sources through
// tsx, so that `npx clipmed` right after `npm ci` runs what is in src/ and never a stale build; installed from
// the package, it runs the compiled dist/cli/main.js.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const here = new URL('../', import.meta.url);
const source = new URL('src/cli/main.ts', here);
const built = new URL('dist/cli/main.js', here);

function tsxAvailable() {
  try {
    createRequire(import.meta.url).resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

if (existsSync(source) && tsxAvailable()) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write('clipmed: neither dist/cli/main.js (run `npm run build`) nor the sources with tsx (`npm ci`) are here\n');
  process.exit(1);
}
