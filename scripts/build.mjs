#!/usr/bin/env node
// npm run build: the JavaScript and .d.ts of src/ into dist/ (tsc with tsconfig.build.json, relative `.ts`
// imports rewritten to `.js`), from a clean dist/. Also the package's `prepare`, so `npm ci` builds it.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
rmSync(join(root, 'dist'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
