// What a newcomer hit (issue 8), each as the user ran it: stdout holds results only, output folders are made
// before the work, progress on a terminal only, options checked before any work, one message per kind of
// mistake in every command, "did you mean" for model names, overlays over the original image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { readNpy } from '../../src/index.ts';
import { cli, ROOT } from '../helpers/cli.ts';
import { DATA, FIXTURES, isolateCache, tempDir } from '../helpers/reference.ts';

const cache = isolateCache();
const model = join(FIXTURES, 'tiny-quickgelu');
const clipmed = cli({ CLIPMED_CACHE: cache, HF_HUB_OFFLINE: '1' });
const j2k = join(DATA, 'dicom/pydicom-test-files/JPEG2000.dcm');
const ct = join(DATA, 'dicom/pydicom-test-files/CT_small.dcm');
const xrays = readdirSync(join(DATA, 'pneumonia-cxr/test/NORMAL')).slice(0, 8).map((f) => join(DATA, 'pneumonia-cxr/test/NORMAL', f))
  .concat(readdirSync(join(DATA, 'pneumonia-cxr/test/PNEUMONIA')).slice(0, 8).map((f) => join(DATA, 'pneumonia-cxr/test/PNEUMONIA', f)));

/** A labelled manifest of the sixteen X-rays above (absolute paths), all in split `train`. */
function manifest(dir: string): string {
  const file = join(dir, 'small.csv');
  writeFileSync(file, `image,split,label\n${xrays.map((x) => `${x},train,${x.includes('PNEUMONIA') ? 'pneumonia' : 'normal'}`).join('\n')}\n`);
  return file;
}

/** Temporary files an atomic write could leave behind. */
const leftovers = (dir: string) => readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.tmp'));

test('JPEG 2000 DICOM: the codec prints nothing; stdout of read --json and classify --csv is only the result', () => {
  const r = clipmed('read', j2k, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /\[INFO\]/);
  assert.equal(JSON.parse(r.stdout).transferSyntaxUID, '1.2.840.10008.1.2.4.91');
  const c = clipmed('classify', '--model', model, '--labels', 'normal,pneumonia', j2k, '--csv');
  assert.equal(c.code, 0, c.stderr);
  const lines = c.stdout.trim().split('\n');
  assert.deepEqual([lines.length, lines[0]], [2, 'input,normal,pneumonia']);
  assert.match(lines[1]!, /^.+JPEG2000\.dcm,0\.\d{6},0\.\d{6}$/);
});

test('read --png/--npy into folders that do not exist: created, written whole, and said on stdout', async () => {
  const dir = tempDir();
  const png = join(dir, 'new/a/ct.png');
  const npy = join(dir, 'other/b/ct.npy');
  const r = clipmed('read', ct, '--png', png, '--npy', npy, '--window', 'lung');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`wrote ${npy} \\(float32 \\[1, 128, 128, 1\\]`));
  assert.match(r.stdout, new RegExp(`wrote ${png} \\(128x128 grey PNG`));
  assert.deepEqual(readNpy(readFileSync(npy), npy).shape, [1, 128, 128, 1]);
  assert.equal((await sharp(png).metadata()).width, 128);
  assert.deepEqual(leftovers(dir), []);
  const j = JSON.parse(clipmed('read', ct, '--png', png, '--json').stdout);
  assert.deepEqual(j.written.map((w: { file: string }) => w.file), [png]);
});

test('an output folder that cannot be made is refused before any work (no model is even compiled)', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'file'), 'x');
  const ownCache = tempDir('clipmed-cache-');
  const run = cli({ CLIPMED_CACHE: ownCache });
  for (const args of [
    ['heatmap', xrays[0]!, '--model', model, '-t', 'lung', '-o', join(dir, 'file/maps')],
    ['eval', '--model', model, '--manifest', manifest(dir), '--html', join(dir, 'file/r.html')],
    ['probe', '--model', model, '--manifest', manifest(dir), '-o', join(dir, 'file/p.json')],
    ['read', ct, '--png', join(dir, 'file/x.png')],
  ]) {
    const r = run(...args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /^clipmed: ConfigError: .*file.*: (--out-dir|--html|--out|--png): cannot create the output folder: (EEXIST|ENOTDIR)\n$/);
  }
  assert.equal(existsSync(join(ownCache, 'graphs')), false);
});

test('eval --html and probe -o into new folders: the files appear whole', () => {
  const dir = tempDir();
  const m = manifest(dir);
  const html = join(dir, 'reports/today/eval.html');
  const e = clipmed('eval', '--model', model, '--manifest', m, '--html', html, '--resamples', '10');
  assert.equal(e.code, 0, e.stderr);
  assert.match(readFileSync(html, 'utf8'), /^<!doctype html>/i);
  const probe = join(dir, 'probes/p.json');
  const p = clipmed('probe', '--model', model, '--manifest', m, '--val-fraction', '0.5', '-o', probe, '--json');
  assert.equal(p.code, 0, p.stderr);
  assert.equal(JSON.parse(p.stdout).saved, probe);
  assert.equal(JSON.parse(readFileSync(probe, 'utf8')).kind, 'linear-probe');
  assert.deepEqual(leftovers(dir), []);
});

test('heatmap -o maps/ (a new folder): each overlay is over the original image at its size', async () => {
  const dir = tempDir();
  // a 160x64 grey gradient: the model (64 px, shortest side, centre crop) sees columns 48..111
  const W = 160;
  const H = 64;
  const grey = Buffer.alloc(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) grey[y * W + x] = (x * 3 + y) % 256;
  const wide = join(dir, 'wide.png');
  await sharp(grey, { raw: { width: W, height: H, channels: 1 } }).png().toFile(wide);
  const out = join(dir, 'maps');
  const r = clipmed('heatmap', wide, '--model', model, '-t', 'lung', '-t', 'heart', '-o', `${out}/`, '--json');
  assert.equal(r.code, 0, r.stderr);
  const maps = JSON.parse(r.stdout).heatmaps;
  assert.equal(maps.length, 2);
  const { data, info } = await sharp(maps[0].png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [W, H, 3]);
  let outsideSame = 0;
  let insideChanged = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = (y * W + x) * 3;
    const same = data[i] === grey[y * W + x] && data[i + 1] === grey[y * W + x] && data[i + 2] === grey[y * W + x];
    if (x < 47 || x > 112) outsideSame += same ? 1 : 0;
    else if (x > 48 && x < 111) insideChanged += same ? 0 : 1;
  }
  assert.equal(outsideSame, (47 + 47) * H, 'the part the crop cut away is the original, uncoloured');
  assert.ok(insideChanged > 0.95 * 62 * H, `only ${insideChanged} coloured pixels where the model looked`);
  assert.deepEqual(leftovers(dir), []);
});

test('numbers are checked before any work, with the same typed message in every command', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--threads', 'abc'], /--threads 'abc': expected a whole number of CPU threads from 1 to 1024/],
    [['--threads', '100000'], /--threads '100000': expected a whole number of CPU threads from 1 to 1024/],
    [['--batch-size', '0'], /--batch-size '0': expected a whole number of images per batch from 1 to 4096/],
    [['--batch-size', '-3'], /--batch-size '-3': expected a whole number of images per batch from 1 to 4096/],
    [['--batch-size', '2.5'], /--batch-size '2.5': expected a whole number of images per batch from 1 to 4096/],
  ];
  for (const [extra, message] of cases) {
    for (const cmd of [['classify', '--labels', 'a,b', xrays[0]!], ['embed', '--image', xrays[0]!]]) {
      const r = clipmed(...cmd, '--model', model, ...extra);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^clipmed: ConfigError: ${message.source}\\n$`));
      assert.equal(r.stdout, '');
    }
  }
});

test('a bad --window is the same ConfigError in classify, heatmap, read and report', () => {
  for (const args of [
    ['classify', '--model', model, '--labels', 'a,b', ct],
    ['heatmap', '--model', model, '-t', 'x', ct],
    ['read', ct, '--png', join(tempDir(), 'x.png')],
    ['report', '--model', model, '--corpus', join(DATA, 'iu-xray-reports/indiana_reports.csv'), ct],
  ]) {
    const r = clipmed(...args, '--window', 'lungs');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^clipmed: ConfigError: window 'lungs': expected a preset \(lung, /);
  }
});

test('a missing file is the same typed message in every command', () => {
  const gone = join(tempDir(), 'gone.png');
  const runs = [
    ['classify', '--model', model, '--labels', 'a,b', gone],
    ['embed', '--model', model, '--image', gone],
    ['read', gone],
    ['heatmap', '--model', model, '-t', 'x', gone],
    ['explain', '--model', model, gone],
    ['eval', '--model', model, '--manifest', gone],
    ['probe', '--model', model, '--manifest', gone],
    ['report', '--model', model, '--corpus', gone, xrays[0]!],
    ['classify', '--model', model, '--probe', gone, xrays[0]!],
    ['embed', '--model', model, '--pixel-values', gone],
  ];
  for (const args of runs) {
    const r = clipmed(...args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, new RegExp(`ConfigError: ${gone}: no such file or folder`), `${args[0]}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /ENOENT|    at /);
  }
});

test('classify without classes says --labels or --label-set is needed', () => {
  const r = clipmed('classify', '--model', model, xrays[0]!);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^clipmed: ConfigError: classify needs the classes: --labels a,b,c or --label-set NAME/);
});

test('a mistyped option: one line, a suggestion and a hint, not the whole help', () => {
  const r = clipmed('classify', '--model', model, '--lables', 'a,b', xrays[0]!);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "clipmed: error: unknown option '--lables'\n(Did you mean --labels?)\n(run with --help for the options)\n");
  assert.doesNotMatch(r.stderr, /Usage:/);
});

test('--model with the wrong case or a bare repository id gets "did you mean"', () => {
  const a = clipmed('info', '--model', 'BiomedCLIP');
  assert.equal(a.code, 2);
  assert.match(a.stderr, /ConfigError: BiomedCLIP: model source not found: .*did you mean --model biomedclip\?/);
  const b = clipmed('info', '--model', 'wisdomik/QuiltNet-B-32');
  assert.equal(b.code, 2);
  assert.match(b.stderr, /did you mean --model quiltnet-b-32 or --model hf-hub:wisdomik\/QuiltNet-B-32\?/);
  const c = clipmed('info', '--model', 'someone/unknown-clip');
  assert.match(c.stderr, /did you mean --model hf-hub:someone\/unknown-clip\?/);
});

test('piped into head: no EPIPE stack trace', () => {
  const texts = Array.from({ length: 3000 }, (_, i) => `-t 'finding ${i}'`).join(' ');
  const r = spawnSync('sh', ['-c', `"${process.execPath}" bin/clipmed.js tokenize ${texts} | head -n 1; echo "exit $?"`], { cwd: ROOT, encoding: 'utf8' });
  assert.match(r.stdout, /^finding 0\t49406 /);
  assert.doesNotMatch(r.stderr, /EPIPE|Error/);
});

/** Run under a pseudo-terminal (util-linux `script`), as a user at a terminal does; stderr and stdout merged. */
function atTerminal(args: string[], env: Record<string, string> = {}): string {
  const cmd = [process.execPath, join(ROOT, 'bin/clipmed.js'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, CLIPMED_CACHE: cache, COLUMNS: '120', ...env } });
  assert.equal(r.status, 0, r.stdout);
  return r.stdout;
}

test('progress: a bar for heatmap, explain, probe and report on a terminal; none when piped, with --quiet or HF_HUB_DISABLE_PROGRESS_BARS', () => {
  const dir = tempDir();
  const m = manifest(dir);
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, Array.from({ length: 200 }, (_, i) => `finding number ${i}`).join('\n'));
  const runs: Array<[string, string[]]> = [
    ['heatmaps', ['heatmap', ...xrays, '--model', model, '-t', 'lung', '-o', join(dir, 'maps')]],
    ['explaining: images', ['explain', ...xrays, '--model', model, '-d', 'cardiomegaly']],
    ['fitting: images', ['probe', '--model', model, '--manifest', m, '--val-fraction', '0.5', '--batch-size', '2']],
    ['corpus: texts', ['report', ...xrays, '--model', model, '--corpus', corpus]],
  ];
  const bar = /\[[█░]+\]/;
  for (const [label, args] of runs) assert.match(atTerminal(args), new RegExp(`${label} \\[[█░]+\\] \\d+/\\d+`), args[0]);
  // each way of turning the bars off, on two of the commands each
  for (const [, args] of runs.slice(0, 2)) assert.doesNotMatch(atTerminal([...args, '--quiet']), bar, `${args[0]} --quiet`);
  for (const [, args] of runs.slice(2)) assert.doesNotMatch(atTerminal(args, { HF_HUB_DISABLE_PROGRESS_BARS: '1' }), bar, `${args[0]} HF_HUB_DISABLE_PROGRESS_BARS`);
  for (const [, args] of runs.slice(1, 3)) {
    const piped = clipmed(...args);
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stderr, bar);
  }
});
