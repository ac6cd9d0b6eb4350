// Hostile and careless input at the command line (issue 15): heatmap names never collide, a probe refuses
// another model, names from files reach the terminal escaped, a DICOMweb password never appears, bad numbers
// are typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { redact, sanitize } from '../../src/cli/output.ts';
import { cli } from '../helpers/cli.ts';
import { DATA, FIXTURES, isolateCache, tempDir } from '../helpers/reference.ts';
import { torchZip } from '../helpers/torch-writer.ts';
import { dicomFile, greyImage } from '../io/build-dicom.ts';

const cache = isolateCache();
const model = join(FIXTURES, 'tiny-quickgelu');
const other = join(FIXTURES, 'tiny-gelu-safetensors');
const clipmed = cli({ CLIPMED_CACHE: cache });
const xray = join(DATA, 'pneumonia-cxr/test/PNEUMONIA/person100_bacteria_475.jpeg');

test('heatmap: as many files written as maps reported, whatever the names (case, 40-character cut, same basename)', () => {
  const dir = tempDir();
  // two inputs with the same basename in different folders, one with the name in capitals
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  copyFileSync(xray, join(dir, 'a/chest.jpeg'));
  copyFileSync(xray, join(dir, 'b/CHEST.jpeg'));
  const long = 'opacity in the right lower lobe of the lung with';
  const out = join(dir, 'maps');
  const r = clipmed('heatmap', join(dir, 'a/chest.jpeg'), join(dir, 'b/CHEST.jpeg'), '--model', model,
    '-t', 'Effusion', '-t', 'effusion', '-t', `${long} air bronchograms`, '-t', `${long} a pleural effusion`, '-o', out, '--npy', '--json');
  assert.equal(r.code, 0, r.stderr);
  const maps = JSON.parse(r.stdout).heatmaps as Array<{ png: string; npy: string }>;
  assert.equal(maps.length, 8);
  assert.equal(new Set(maps.map((m) => m.png.toLowerCase())).size, 8);
  assert.equal(readdirSync(out).filter((f) => f.endsWith('.png')).length, 8);
  assert.equal(readdirSync(out).filter((f) => f.endsWith('.npy')).length, 8);
});

test('a probe records the checkpoint it was fitted on and refuses another model', () => {
  const dir = tempDir();
  const manifest = join(dir, 'm.csv');
  const rows = ['NORMAL', 'PNEUMONIA'].flatMap((c) => readdirSync(join(DATA, 'pneumonia-cxr/test', c)).slice(0, 5).map((f) => `${join(DATA, 'pneumonia-cxr/test', c, f)},train,${c.toLowerCase()}`));
  writeFileSync(manifest, `image,split,label\n${rows.join('\n')}\n`);
  const probe = join(dir, 'probe.json');
  const p = clipmed('probe', '--model', model, '--manifest', manifest, '--val-fraction', '0.4', '-o', probe);
  assert.equal(p.code, 0, p.stderr);
  const saved = JSON.parse(readFileSync(probe, 'utf8'));
  const info = JSON.parse(clipmed('info', '--model', model, '--json').stdout);
  assert.deepEqual(saved.model, { name: 'tiny-quickgelu', checkpointSha256: info.checkpointSha256 });
  // the same model: fine
  assert.equal(clipmed('classify', '--model', model, '--probe', probe, xray).code, 0);
  // another model with the same embedding width: refused, naming both
  const r = clipmed('classify', '--model', other, '--probe', probe, xray, '--json');
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`\nclipmed: ConfigError: ${probe}: the probe was fitted on tiny-quickgelu \\(checkpoint sha256 ${info.checkpointSha256.slice(0, 16)}\\.\\.\\.\\), not on tiny-gelu-safetensors`));
  const e = clipmed('eval', '--model', other, '--probe', probe, '--manifest', manifest);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /the probe was fitted on tiny-quickgelu/);
  // a probe that does not say which model it came from is refused too
  const { model: _, ...anonymous } = saved;
  writeFileSync(probe, JSON.stringify(anonymous));
  const a = clipmed('classify', '--model', model, '--probe', probe, xray);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /does not record the model it was fitted on/);
});

test('names from a file reach the terminal escaped: a pickle global with escape codes', () => {
  const dir = tempDir();
  const evil = join(dir, 'evil.pt');
  // GLOBAL 'os<ESC>[2J<ESC>]0;owned<BEL>' 'system', then STOP
  const pickle = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cos\x1b[2J\x1b]0;owned\x07\nsys\u202etem\n.', 'latin1')]);
  writeFileSync(evil, torchZip(new Uint8Array(pickle)));
  const r = clipmed('info', '--model', evil);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /SecurityError: .*pickle names the global/);
  assert.doesNotMatch(r.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  // escaped (by the checkpoint reader itself or by the CLI's printer), never raw
  assert.match(r.stderr, /os\\(x1b|u001b)\[2J\\(x1b|u001b)\]0;owned\\(x07|u0007)/);
});

test('DICOM strings and file names reach the terminal escaped; --json stays JSON with the same strings', () => {
  const dir = tempDir();
  const file = join(dir, 'scan\u202egpj.dcm');
  writeFileSync(file, dicomFile(greyImage({ rows: 2, columns: 2, pixels: Uint8Array.of(0, 50, 100, 150) }, [{ tag: [0x0008, 0x0060], vr: 'CS', value: 'CT\x1b[2J\x1b]0;x\x07' }])));
  const r = clipmed('read', file);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
  assert.match(r.stdout, /scan\\u202egpj\.dcm: CT\\x1b\[2J\\x1b\]0;x\\x07/);
  const j = clipmed('read', file, '--json');
  assert.doesNotMatch(j.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
  const meta = JSON.parse(j.stdout);
  assert.equal(meta.source, file);
  assert.match(meta.modality, /^CT\x1b\[2J/);
});

test('sanitize and redact: control characters and bidi overrides shown as escapes; URL passwords hidden', () => {
  assert.equal(sanitize('a\x1b[31mb\x07\x9b\u202ec\td'), 'a\\x1b[31mb\\x07\\x9b\\u202ec\td');
  assert.equal(sanitize('line1\nline2'), 'line1\\x0aline2');
  assert.equal(sanitize('line1\nline2', true), 'line1\nline2');
  assert.equal(redact('dicomweb+https://alice:p%40ss@pacs.example/studies/1 and http://bob:x@h:8042/'), 'dicomweb+https://alice:***@pacs.example/studies/1 and http://bob:***@h:8042/');
  assert.equal(redact('http://user@host/x'), 'http://user@host/x');
});

test("a DICOMweb URL's password appears neither in errors nor in --json", () => {
  const url = 'dicomweb+http://alice:s3cret-pw@127.0.0.1:9/studies/1.2.3';
  for (const args of [
    ['classify', '--model', model, '--labels', 'a,b', url, xray, '--json'],
    ['read', url, ct(), '--json'],
  ]) {
    const r = clipmed(...args);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cret-pw/);
    const failures = JSON.parse(r.stdout).failures as Array<{ input: string; error: string }>;
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.input, 'dicomweb+http://alice:***@127.0.0.1:9/studies/1.2.3');
    assert.match(r.stderr, /alice:\*\*\*@127\.0\.0\.1:9/);
  }
});

function ct(): string {
  return join(DATA, 'dicom/pydicom-test-files/CT_small.dcm');
}

test('--threads abc or 100000 and --batch-size 2.5 are typed errors before any work', () => {
  for (const [flag, value] of [['--threads', 'abc'], ['--threads', '100000'], ['--batch-size', '2.5']] as const) {
    const r = clipmed('eval', '--model', model, '--manifest', join(DATA, 'pneumonia-cxr/manifest.csv'), flag, value);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`^clipmed: ConfigError: ${flag} '${value}': expected a whole number`));
  }
});
