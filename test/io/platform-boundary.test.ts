// The decoding core of DICOM, series and whole-slide images takes bytes and imports no Node module (issue 8):
// file reading (dicom-files.ts, series-files.ts, slide-files.ts) and codec loading (dicom-codecs.ts) are the Node side,
// in src/node/io/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { OUTCOME, runChild } from './child-rss.ts';

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

test('the core decodes compressed DICOM through the loader the platform registers: none, an UnsupportedError; the Node side registers its own', () => {
  const file = join(ROOT, '../shared/data/dicom/pydicom-data/JLSL_08_07_0_1F.dcm'); // JPEG-LS: a cornerstone codec
  const r = runChild(`
    import { readFileSync } from 'node:fs';
    import { decodeDicom } from '$ROOT/src/io/dicom/index.ts';
    import { setCodecLoader, type CodecLoader } from '$ROOT/src/io/dicom/pixels.ts';
    ${OUTCOME}
    const bytes = new Uint8Array(readFileSync(process.env.DCM!));
    const pixels = async () => (await decodeDicom(bytes, { source: 'jls.dcm' })).data.length;
    const none = await outcome(pixels);
    const { nodeCodecLoader } = await import('$ROOT/src/node/io/dicom-codecs.ts'); // registers itself on import
    const registered = await outcome(pixels);
    const asked: string[] = [];
    const counting: CodecLoader = (codec, build) => (asked.push(codec), nodeCodecLoader(codec, build));
    setCodecLoader(counting);
    const own = await outcome(pixels);
    report({ none, registered, own, asked });
  `, { DCM: file });
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  const { none, registered, own, asked } = r.result as Record<string, { error?: string; message?: string; ok?: boolean; value?: number }> & { asked: string[] };
  assert.equal(none.error, 'UnsupportedError');
  assert.match(none.message!, /^jls\.dcm: no codec loader registered for jpegls \(setCodecLoader/);
  assert.ok(registered.ok && registered.value! > 0, JSON.stringify(registered));
  assert.deepEqual(own, registered);
  assert.deepEqual(asked, ['jpegls']);
});
