// Memory must not grow with the number of inputs (issue 15): `classify` over 2,000 small images used to hold
// every decoded image and raster at once (1.76 GB). Now images stream through in chunks; its peak RSS over
// 1,000 images stays within a small margin of its peak over 50.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { ROOT } from '../helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'clipmed-stream-'));
const cache = join(work, 'cache');

/** n distinct 192x192 greyscale PNGs (noise, so no two are alike and none compress away). */
async function folder(n: number): Promise<string> {
  const dir = join(work, `images-${n}`);
  mkdirSync(dir);
  for (let i = 0; i < n; i++) {
    const px = Buffer.alloc(192 * 192);
    let s = i + 1;
    for (let j = 0; j < px.length; j++) { s = (s * 1103515245 + 12345) >>> 0; px[j] = s >>> 24; }
    await sharp(px, { raw: { width: 192, height: 192, channels: 1 } }).png({ compressionLevel: 1 }).toFile(join(dir, `${String(i).padStart(5, '0')}.png`));
  }
  return dir;
}

function classifyPeakMiB(dir: string): { mib: number; results: number } {
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'bench/report-rss.mjs'), join(ROOT, 'bin/clipmed.js'), 'classify', '--model', join(ROOT, 'models/clipmed-cxr-tiny'), '--labels', 'normal,pneumonia', '--json', '--threads', '1', dir], {
    encoding: 'utf8', env: { ...process.env, CLIPMED_CACHE: cache }, maxBuffer: 1 << 26,
  });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  return { mib: Number(/@@maxrss (\d+)/.exec(r.stderr)![1]) / 1024, results: (JSON.parse(r.stdout) as { results: unknown[] }).results.length };
}

test('classify over 1,000 images peaks within 100 MiB of its peak over 50 (images stream in chunks)', async () => {
  const small = await folder(50);
  const large = await folder(1000);
  classifyPeakMiB(small); // compile the graphs first, outside the measurement
  const a = classifyPeakMiB(small);
  const b = classifyPeakMiB(large);
  assert.equal(a.results, 50);
  assert.equal(b.results, 1000);
  // 1,000 decoded 192x192 images and their RGB rasters held at once would add over 200 MiB
  assert.ok(b.mib - a.mib < 100, `peak RSS ${a.mib.toFixed(0)} MiB over 50 images, ${b.mib.toFixed(0)} MiB over 1,000`);
});
