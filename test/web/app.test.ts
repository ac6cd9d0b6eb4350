// The browser app end to end: `clipmed serve` (started here) serves the freshly built app; Debian's chromium,
// driven by playwright-core, drops DICOM, NIfTI and JPEG files on it, and the scores the page shows equal
// `clipmed classify --json` for the same files to 1e-4, in server mode and in local mode (model in the page,
// no image sent anywhere). Screenshots of each view go to out/screenshots/ (gitignored).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { DATA, isolateCache, tempDir } from '../helpers/reference.ts';
import { clipmedIn, MODEL, ROOT, serve, XRAYS, type Served } from '../server/serve.ts';

const cache = isolateCache();
const env = { CLIPMED_CACHE: cache };
const SHOTS = join(ROOT, 'out/screenshots');
const FILES = [
  join(XRAYS, 'NORMAL/IM-0001-0001.jpeg'),
  join(XRAYS, 'PNEUMONIA/person100_bacteria_475.jpeg'),
  join(DATA, 'dicom/pydicom-test-files/CT_small.dcm'),
  join(DATA, 'nifti/example_nifti2.nii.gz'),
  join(DATA, 'dicom/pydicom-test-files/MR_small_RLE.dcm'), // RLE-compressed: decoded by clipmed in the page too
];
const LABELS = 'normal,pneumonia,pleural effusion';
const DB = join(tempDir(), 'archive');
const TOKEN = 'web-test-token-42';
// a BiomedCLIP-layout fixture (open_clip config, BERT text tower with a WordPiece vocabulary), served as 'tiny'
const BIOMEDCLIP = join(ROOT, 'test/fixtures/biomedclip/tiny');
let server: Served;
let browser: Browser;
let expected: Map<string, Record<string, number>>;

before(async () => {
  // the web build is part of the test, so CI needs nothing else
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web', '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr + build.stdout);
  mkdirSync(SHOTS, { recursive: true });
  // an archive of the two X-rays for the page's search
  const indexed = clipmedIn(ROOT, env, 'index', '--db', DB, '--model', MODEL, FILES[0]!, FILES[1]!, '--quiet');
  assert.equal(indexed.code, 0, indexed.stderr);
  server = await serve(['--model', MODEL, '--model', BIOMEDCLIP, '--quiet', '--db', DB], { ...env, CLIPMED_TOKEN: TOKEN });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const cli = clipmedIn(ROOT, env, 'classify', '--model', MODEL, '--labels', LABELS, ...FILES, '--json');
  assert.equal(cli.code, 0, cli.stderr);
  const out = JSON.parse(cli.stdout);
  assert.equal(out.results.length, FILES.length);
  expected = new Map(out.results.map((r: { input: string; scores: Record<string, number> }) => [basename(r.input), r.scores]));
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Drop files on the page's drop zone as a user's drag and drop does (a DataTransfer of File objects). */
async function drop(page: Page, paths: string[]) {
  const files = paths.map((p) => ({ name: basename(p), b64: readFileSync(p).toString('base64') }));
  await page.evaluate((fs) => {
    const dt = new DataTransfer();
    for (const f of fs) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
    document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files);
}

async function settled(page: Page, pattern: RegExp) {
  try {
    await page.waitForFunction(
      (src) => {
        const s = document.getElementById('status')!;
        return s.dataset.state === 'error' || (s.dataset.state === 'done' && new RegExp(src).test(s.textContent ?? ''));
      },
      pattern.source,
      { timeout: 120_000 },
    );
  } catch (err) {
    throw new Error(`waiting for ${pattern}: the page says "${await page.textContent('#status')}" (${(err as Error).message})`);
  }
  const s = page.locator('#status');
  assert.equal(await s.getAttribute('data-state'), 'done', await s.textContent() ?? '');
}

/** The server wants a token: the page says so (401), and works once the token is typed. */
async function unlock(page: Page, loaded: RegExp) {
  await page.waitForFunction(() => document.getElementById('status')!.dataset.state === 'error');
  assert.match((await page.textContent('#status'))!, /^401: this server needs Authorization/);
  await page.fill('#token', TOKEN);
  await page.dispatchEvent('#token', 'change');
  await settled(page, loaded);
}

async function shownScores(page: Page): Promise<Map<string, Record<string, number>>> {
  const rows = await page.$$eval('tr.finding', (trs) => trs.map((tr) => ({ input: (tr as HTMLElement).dataset.input!, label: (tr as HTMLElement).dataset.label!, score: Number((tr as HTMLElement).dataset.score) })));
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) out.set(r.input, { ...out.get(r.input), [r.label]: r.score });
  return out;
}

function assertClose(shown: Map<string, Record<string, number>>, expected: Map<string, Record<string, number>>) {
  assert.deepEqual([...shown.keys()].sort(), [...expected.keys()].sort());
  for (const [input, scores] of expected) {
    assert.deepEqual(Object.keys(shown.get(input)!).sort(), Object.keys(scores).sort(), input);
    for (const [label, p] of Object.entries(scores)) {
      const d = Math.abs(shown.get(input)![label]! - p);
      assert.ok(d <= 1e-4, `${input} ${label}: page ${shown.get(input)![label]} vs CLI ${p}`);
    }
  }
}

test('server mode: dropped DICOM, NIfTI and JPEG files get the CLI\'s scores; window, slice, heatmap and search views', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${server.url}/?mode=server&labels=${encodeURIComponent(LABELS)}`);
  await page.waitForSelector('body[data-ready="true"]');
  await unlock(page, /^2 model\(s\) on the server$/);
  await drop(page, FILES);
  await settled(page, /^classified 5 image/);
  assertClose(await shownScores(page), expected);
  await page.screenshot({ path: join(SHOTS, 'server-findings.png'), fullPage: true });

  // the CT in a window preset, then the NIfTI's slices
  await page.click('#file-list li:nth-child(3) button');
  await page.selectOption('#window', 'mediastinum');
  assert.match((await page.textContent('#image-info'))!, /CT_small\.dcm: dicom, 128 x 128/);
  await page.screenshot({ path: join(SHOTS, 'server-dicom-window.png'), fullPage: true });
  await page.selectOption('#window', '');
  await page.click('#file-list li:nth-child(4) button');
  const max = Number(await page.getAttribute('#frame', 'max'));
  assert.ok(max > 0, 'the NIfTI has slices to step through');
  await page.fill('#frame', '0');
  await page.dispatchEvent('#frame', 'input');
  assert.match((await page.textContent('#frame-out'))!, new RegExp(`^1 / ${max + 1}$`));

  await page.click('#file-list li:nth-child(2) button');
  await page.fill('#prompt', 'pneumonia');
  await page.click('#heatmap-run');
  await settled(page, /^heatmap/);
  assert.equal(await page.$eval('#heatmap-canvas', (c) => (c as HTMLCanvasElement).width), 224); // over the original image
  await page.screenshot({ path: join(SHOTS, 'server-heatmap.png'), fullPage: true });

  await page.fill('#query', 'consolidation');
  await page.click('#search-run');
  await settled(page, /^2 hit\(s\)$/);
  const hits = await page.$$eval('li.hit', (lis) => lis.map((li) => ({ path: (li as HTMLElement).dataset.path!, score: Number((li as HTMLElement).dataset.score) })));
  const cli = JSON.parse(clipmedIn(ROOT, env, 'search', '--db', DB, '--text', 'consolidation', '--k', '10', '--json').stdout);
  assert.deepEqual(hits.map((h) => h.path), cli.results.map((h: { path: string }) => h.path));
  hits.forEach((h, i) => assert.ok(Math.abs(h.score - cli.results[i].score) < 1e-6));
  await page.screenshot({ path: join(SHOTS, 'server-search.png'), fullPage: true });
  await page.close();
});

test('local mode: the model runs in the page, the same scores, and no image leaves it', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const sent: string[] = [];
  page.on('request', (r) => {
    if (r.method() !== 'GET' || r.postData()) sent.push(`${r.method()} ${r.url()}`);
  });
  await page.goto(`${server.url}/?mode=local&model=tiny-quickgelu&labels=${encodeURIComponent(LABELS)}`);
  await page.waitForSelector('body[data-ready="true"]');
  await unlock(page, /loaded into this page \(wasm\)/);
  await drop(page, FILES);
  await settled(page, /^classified 5 image\(s\) in this page/);
  assertClose(await shownScores(page), expected);
  await page.screenshot({ path: join(SHOTS, 'local-findings.png'), fullPage: true });
  await page.click('#file-list li:nth-child(1) button');
  await page.fill('#prompt', 'pleural effusion');
  await page.click('#heatmap-run');
  await settled(page, /computed in this page/);
  await page.screenshot({ path: join(SHOTS, 'local-heatmap.png'), fullPage: true });
  // the page's overlay equals the server's PNG for the same file and prompt (pixels within rounding)
  const shown = await page.$eval('#heatmap-canvas', (c) => {
    const canvas = c as HTMLCanvasElement;
    return { width: canvas.width, height: canvas.height, rgba: Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data) };
  });
  const form = new FormData();
  form.append('file', new Blob([readFileSync(FILES[0]!)]), basename(FILES[0]!));
  form.append('prompt', 'pleural effusion');
  const png = Buffer.from(await (await fetch(`${server.url}/v1/heatmap`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKEN}` } })).arrayBuffer());
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([shown.width, shown.height], [info.width, info.height]);
  let worst = 0;
  for (let p = 0; p < info.width * info.height; p++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(shown.rgba[4 * p + c]! - data[p * info.channels + c]!));
  assert.ok(worst <= 2, `local and server heatmaps differ by up to ${worst} grey levels`);
  assert.deepEqual(sent, [], 'local mode sent nothing but GETs of the app and the model');
  await page.close();
});

test('local mode with a WordPiece model: the vocabulary comes from the server, the scores equal the CLI\'s', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${server.url}/?mode=local&model=tiny&labels=${encodeURIComponent(LABELS)}`);
  await page.waitForSelector('body[data-ready="true"]');
  await unlock(page, /model tiny loaded into this page \(wasm\)/);
  await drop(page, FILES.slice(0, 2));
  await settled(page, /^classified 2 image\(s\) in this page/);
  const cli = clipmedIn(ROOT, env, 'classify', '--model', BIOMEDCLIP, '--labels', LABELS, FILES[0]!, FILES[1]!, '--json');
  assert.equal(cli.code, 0, cli.stderr);
  const want = new Map<string, Record<string, number>>(JSON.parse(cli.stdout).results.map((r: { input: string; scores: Record<string, number> }) => [basename(r.input), r.scores]));
  assertClose(await shownScores(page), want);
  await page.close();
});
