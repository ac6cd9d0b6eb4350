// The platform boundary: the core (every module under src/ except the Node adapter, that is src/node, the cli and
// server shells and the Node package entry src/index.ts) imports no `node:` module, sharp or onnxruntime-node, and
// nothing from the adapter at run time; the browser-facing entries reach none through their imports either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = new URL('../../src/', import.meta.url).pathname;
const NODE_ONLY = /^(node:|sharp$|onnxruntime-node$)/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Static and dynamic import specifiers of a module (type-only imports excluded: they vanish at runtime). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm)) if (!m[2]) out.push(m[3]!);
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

// The Node adapter is src/node/ with the shells over it (src/cli, src/server) and the Node package entry (src/index.ts);
// everything else under src/ is the core.
const ADAPTER = /^(node|cli|server)\//;
const coreFiles = () => files(SRC).filter((f) => !ADAPTER.test(relative(SRC, f)) && relative(SRC, f) !== 'index.ts');

test('boundary: no core module imports node:, sharp or onnxruntime-node directly', () => {
  const offenders: string[] = [];
  const core = coreFiles();
  for (const dir of ['models', 'runtime', 'pipeline', 'tasks', 'image', 'text', 'checkpoint', 'eval', 'graph', 'train', 'index', 'io']) {
    assert.ok(core.some((f) => relative(SRC, f).startsWith(`${dir}/`)), `the walk finds src/${dir}`);
  }
  assert.ok(core.some((f) => relative(SRC, f) === 'io/dicom/dataset.ts') && core.some((f) => relative(SRC, f) === 'browser.ts'), 'the walk finds nested folders and the browser entry');
  for (const f of core) for (const s of imports(f)) if (NODE_ONLY.test(s)) offenders.push(`${relative(SRC, f)} -> ${s}`);
  assert.deepEqual(offenders, []);
});

test('boundary: no core module imports the Node adapter (type-only imports aside)', () => {
  const offenders: string[] = [];
  for (const f of coreFiles()) for (const s of imports(f)) {
    if (!s.startsWith('.')) continue;
    const target = relative(SRC, resolve(dirname(f), s));
    if (ADAPTER.test(target) || target === 'index.ts') offenders.push(`${relative(SRC, f)} -> ${target}`);
  }
  assert.deepEqual(offenders, []);
});

/** Modules reached from `entry` (relative imports followed), with the node-only specifiers each imports. */
function reach(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const stack = [entry];
  while (stack.length) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    const specs = imports(f);
    seen.set(f, specs.filter((s) => NODE_ONLY.test(s)));
    for (const s of specs) if (s.startsWith('.')) {
      const p = resolve(dirname(f), s);
      if (existsSync(p)) stack.push(p);
    }
  }
  return seen;
}

// Known exceptions: none left (the graph builder gives its external-data files as bytes; src/node/graph-files.ts
// writes them). The tokenizers take bytes; their files are read in src/node/tokenizer-files.ts.
const KNOWN = new Set<string>();

test('boundary: the spec readers, tower registry, tokenizers, backends and pipeline API reach no Node-only module', () => {
  const entries = ['models/readers/index.ts', 'models/from-bytes.ts', 'models/clip-model-core.ts', 'models/towers/builtin.ts', 'models/tokenizers.ts', 'runtime/backends.ts', 'runtime/web-backend.ts', 'pipeline/api.ts', 'pipeline/zero-shot.ts', 'text/clip-bpe.ts', 'text/wordpiece.ts', 'checkpoint/torch.ts', 'checkpoint/safetensors.ts', 'io/nifti.ts', 'train/clip-trainer.ts', 'train/data.ts', 'index/table.ts', 'graph/builder.ts'];
  // every io module (DICOM, series, slides, rasters, inputs, DICOMweb, manifests, ...) takes bytes: none reaches node/ either
  entries.push(...files(join(SRC, 'io')).map((f) => relative(SRC, f)));
  for (const e of entries) {
    const bad = [...reach(join(SRC, e))].filter(([f, specs]) => specs.length > 0 && !KNOWN.has(relative(SRC, f))).map(([f, specs]) => `${relative(SRC, f)} (${specs.join(', ')})`);
    assert.deepEqual(bad, [], `${e} reaches ${bad.join('; ')}`);
    for (const f of reach(join(SRC, e)).keys()) assert.ok(!relative(SRC, f).startsWith('node/'), `${e} reaches ${relative(SRC, f)}`);
  }
});
