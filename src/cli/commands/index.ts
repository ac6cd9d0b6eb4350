// Every CLI command, one module each. Each module exports `register(program)`.
// Add a line here for a new command.
import type { Command } from 'commander';

type Registrar = (program: Command) => void;

export const commands: Array<() => Promise<{ register: Registrar }>> = [
  () => import('./embed.ts'),
  () => import('./tokenize.ts'),
  () => import('./info.ts'),
  () => import('./models.ts'),
  () => import('./read.ts'),
  () => import('./classify.ts'),
  () => import('./probe.ts'),
  () => import('./report.ts'),
  () => import('./heatmap.ts'),
  () => import('./eval.ts'),
  () => import('./explain.ts'),
  () => import('./cache.ts'),
  () => import('./index-cmd.ts'),
  () => import('./search.ts'),
  () => import('./worker.ts'),
  () => import('./serve.ts'),
  () => import('./train.ts'),
  // last: adds --device to the commands above that load a model
  () => import('./device.ts'),
];
