#!/usr/bin/env node
// Writes the training and validation manifests of the clipmed-cxr-tiny demo model from ../shared/data:
//  - pneumonia-cxr train split (pediatric chest X-rays): each label/subtype turned into a short report-like
//    text (one of a few templates, chosen by a seeded hash of the file name); 5% of the rows held out as val
//  - covid-cxr-notes: the X-ray images with their free-text clinical notes (CT rows left out)
// The pneumonia-cxr test split is never used here: it is the held-out evaluation.
// Usage: node models/clipmed-cxr-tiny/make_manifests.mjs [OUT_DIR]   (default /tmp/clipmed-cxr-tiny-data)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const data = resolve(here, '../../../shared/data');
const out = resolve(process.argv[2] ?? '/tmp/clipmed-cxr-tiny-data');
mkdirSync(out, { recursive: true });

function parseCsv(text) {
  const rows = [];
  let row = [], field = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') q = false;
      else field += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const [head, ...body] = rows;
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? ''])));
}
const hash = (s) => { let h = 2166136261; for (const ch of s) h = Math.imul(h ^ ch.charCodeAt(0), 16777619); return h >>> 0; };
const csv = (v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

const TEXTS = {
  normal: ['normal chest x-ray', 'no pneumonia. the lungs are clear', 'clear lungs without consolidation', 'normal pediatric chest radiograph'],
  'bacterial pneumonia': ['chest x-ray showing pneumonia', 'focal consolidation consistent with bacterial pneumonia', 'pneumonia with lobar opacity', 'pediatric chest radiograph with bacterial pneumonia'],
  'viral pneumonia': ['chest x-ray showing pneumonia', 'diffuse interstitial opacities consistent with viral pneumonia', 'pneumonia with bilateral patchy opacities', 'pediatric chest radiograph with viral pneumonia'],
};

const train = [], val = [];
for (const r of parseCsv(readFileSync(join(data, 'pneumonia-cxr/manifest.csv'), 'utf8'))) {
  if (r.split !== 'train') continue;
  const h = hash(r.image);
  const options = TEXTS[r.subtype];
  if (!options) throw new Error(`unknown subtype ${r.subtype}`);
  const row = { image: relative(out, join(data, 'pneumonia-cxr', r.image)), text: options[h % options.length], label: r.label };
  (h % 20 === 0 ? val : train).push(row);
}
for (const r of parseCsv(readFileSync(join(data, 'covid-cxr-notes/metadata.csv'), 'utf8'))) {
  if (r.modality !== 'X-ray' || !r.clinical_notes.trim()) continue;
  train.push({ image: relative(out, join(data, 'covid-cxr-notes', r.image)), text: `${r.finding}. ${r.clinical_notes.trim()}`, label: r.finding === 'No Finding' ? 'normal' : 'pneumonia' });
}
for (const [name, rows] of [['train.csv', train], ['val.csv', val]]) {
  writeFileSync(join(out, name), ['image,text,label', ...rows.map((r) => [r.image, r.text, r.label].map(csv).join(','))].join('\n') + '\n');
  console.log(`${join(out, name)}: ${rows.length} pairs`);
}
