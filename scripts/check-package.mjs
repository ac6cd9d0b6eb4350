#!/usr/bin/env node
// Checks the package as a user gets it: builds, packs the tarball (`npm pack`), unpacks it into a fresh project
// in a temporary folder and, there:
//   1. a plain `node` ESM script imports `clipmed` and classifies an X-ray with the fixture model;
//   2. the installed `clipmed` command runs (from dist/, with no TypeScript sources and no tsx);
//   3. a `tsc --module nodenext` consumer (strict, libraries checked) type-checks with no error;
//   4. `esbuild --bundle --platform=browser` of the package (its `browser` condition) resolves every import.
// The fresh project gets the tarball's files and, for each of its runtime `dependencies` (no devDependencies),
// a link to the checkout's installed copy: no network, and an import of anything else fails as it would for a
// user. Prints one line per check, or with --json one JSON report (what test/package/pack.test.ts reads).
// Usage: node scripts/check-package.mjs [--json] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const json = process.argv.includes('--json');
const keep = process.argv.includes('--keep');
const shared = join(root, '../shared');
const fixture = join(shared, 'fixtures/open_clip/tiny-quickgelu');
const xray = join(shared, 'data/pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts, env: { ...process.env, ...opts.env } });
  return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function fail(step, r) {
  process.stderr.write(`check-package: ${step} failed (exit ${r.code})\n${r.stdout}\n${r.stderr}\n`);
  process.exit(1);
}

const report = { tarball: '', files: [], checks: {} };
const work = mkdtempSync(join(tmpdir(), 'clipmed-package-'));

// build and pack (the build is the package's `prepare`; run here explicitly, then pack without scripts)
const build = run(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root });
if (build.code !== 0) fail('npm run build', build);
const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root });
if (pack.code !== 0) fail('npm pack', pack);
const packed = JSON.parse(pack.stdout)[0];
report.tarball = join(work, packed.filename);
report.files = packed.files.map((f) => f.path).sort();

// a fresh project with the tarball unpacked as node_modules/clipmed and links to its runtime dependencies
const project = join(work, 'consumer');
const installed = join(project, 'node_modules/clipmed');
mkdirSync(installed, { recursive: true });
const untar = run('tar', ['-xzf', report.tarball, '-C', installed, '--strip-components=1']);
if (untar.code !== 0) fail('tar', untar);
const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
const link = (name) => {
  const to = join(project, 'node_modules', name);
  mkdirSync(dirname(to), { recursive: true });
  symlinkSync(join(root, 'node_modules', name), to, 'dir');
};
for (const dep of Object.keys(manifest.dependencies ?? {})) link(dep);
link('@types/node'); // a TypeScript consumer of a Node library has Node's types
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
const env = { CLIPMED_CACHE: join(work, 'cache'), HF_HUB_OFFLINE: '1' };

// 1. plain node, ESM: import clipmed and classify an image
writeFileSync(join(project, 'classify.mjs'), `import { ClipModel, buildClassifier, classifyRasters, decodeImageFile, scoringFor } from 'clipmed';
const model = await ClipModel.load(process.argv[2], { threads: 1 });
const classifier = await buildClassifier(model, { labels: ['normal', 'pneumonia'] });
const result = await classifyRasters(model, [await decodeImageFile(process.argv[3])], classifier, scoringFor(model, false), 1);
console.log(JSON.stringify({ labels: classifier.labels, probs: Array.from(result.probs.data) }));
await model.release();
`);
const node = run(process.execPath, ['classify.mjs', fixture, xray], { cwd: project, env });
report.checks.node = { ...node, result: node.code === 0 ? JSON.parse(node.stdout) : undefined };

// 2. the command, as npx would run it from the installed package
report.checks.bin = run(process.execPath, [join(installed, 'bin/clipmed.js'), 'classify', '--model', fixture, '--labels', 'normal,pneumonia', xray, '--json'], { cwd: project, env });

// 3. a TypeScript consumer with module nodenext
writeFileSync(join(project, 'consumer.ts'), `import { ClipModel, ConfigError, buildClassifier, classifyRasters, decodeImageFile, scoringFor, type Raster, type Matrix } from 'clipmed';
import { parseWindow } from 'clipmed/browser';
export const lung = parseWindow('lung');
export async function top(modelPath: string, image: string, labels: string[]): Promise<{ label: string; score: number }> {
  const model: ClipModel = await ClipModel.load(modelPath);
  const raster: Raster = await decodeImageFile(image);
  const classifier = await buildClassifier(model, { labels });
  const probs: Matrix = (await classifyRasters(model, [raster], classifier, scoringFor(model, false), 1)).probs;
  let best = 0;
  for (let j = 1; j < probs.cols; j++) if (probs.data[j]! > probs.data[best]!) best = j;
  if (!classifier.labels[best]) throw new ConfigError('no label');
  return { label: classifier.labels[best]!, score: probs.data[best]! };
}
`);
writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
  compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
  files: ['consumer.ts'],
}, null, 2));
report.checks.tsc = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project });

// 4. a browser bundle of the package's browser entry
writeFileSync(join(project, 'web.mjs'), "import * as clipmed from 'clipmed';\nconsole.log(Object.keys(clipmed).length);\n");
report.checks.esbuild = run(join(root, 'node_modules/.bin/esbuild'), ['web.mjs', '--bundle', '--platform=browser', '--format=esm', '--log-level=warning', `--outfile=${join(project, 'web.bundle.js')}`], { cwd: project });
if (report.checks.esbuild.code === 0) report.checks.esbuild.bundle = readdirSync(project).includes('web.bundle.js') ? readFileSync(join(project, 'web.bundle.js'), 'utf8').length : 0;

if (!keep) rmSync(work, { recursive: true, force: true });
const ok = Object.values(report.checks).every((c) => c.code === 0);
if (json) console.log(JSON.stringify(report));
else {
  console.log(`${packed.filename}: ${report.files.length} files, ${packed.size} bytes packed`);
  for (const [name, c] of Object.entries(report.checks)) console.log(`${c.code === 0 ? 'ok  ' : 'FAIL'} ${name}${c.code === 0 ? '' : `\n${c.stdout}${c.stderr}`}`);
}
process.exit(ok ? 0 : 1);
