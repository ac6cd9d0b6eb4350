#!/usr/bin/env node
// The clipmed command. Sources are TypeScript, run through tsx so that `npx clipmed` works right after `npm ci`.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
