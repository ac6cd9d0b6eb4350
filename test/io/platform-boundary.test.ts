// The decoding core of DICOM, series and whole-slide images takes bytes and imports no Node module (issue 8):
// file reading (dicom-files.ts, series-files.ts, slide-files.ts) and codec loading (dicom-codecs.ts) are the Node side,
// in src/node/io/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const CORE = ['src/io/dicom/index.ts', 'src/io/series.ts', 'src/io/wsi/slide.ts', 'src/io/wsi/tiles.ts', 'src/io/wsi/heatmap.ts', 'src/io/wsi/dicom-slide.ts', 'src/tasks/mi-zero.ts'];

/** Every file reachable by static relative imports, with the node: modules each imports. */
function graph(entries: string[]): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const stack = entries.map((e) => join(ROOT, e));
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gm)].filter((m) => !/^import type /.test(m[0])).map((m) => m[1]!);
    seen.set(file, specs.filter((s) => s.startsWith('node:')));
    for (const s of specs) if (s.startsWith('.')) stack.push(join(dirname(file), s));
  }
  return seen;
}

test('the DICOM, series and slide core imports no node: module', () => {
  const g = graph(CORE);
  const nodeImports = [...g].filter(([, n]) => n.length).map(([f, n]) => `${relative(ROOT, f)}: ${n.join(', ')}`);
  // dataset.ts inflates deflated data sets with the core's bounded inflater (src/io/inflate.ts), not node:zlib
  assert.deepEqual(nodeImports, []);
  assert.ok(g.size >= 10, `${g.size} files`);
  assert.ok(![...g.keys()].some((f) => /\/src\/node\/|files\.ts$|codecs\.ts$/.test(f)), 'the core reaches a Node-side file');
});
