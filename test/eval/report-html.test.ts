import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectedCalibrationError, reliabilityBins } from '../../src/eval/calibration.ts';
import { aurocWithCI, rocCurve } from '../../src/eval/metrics.ts';
import { gaussian, mulberry32 } from '../../src/eval/prng.ts';
import { escapeHtml, renderEvalReport, type EvalReportInput } from '../../src/eval/report-html.ts';

/** A report from synthetic multi-label scores (3 findings, 200 studies). */
export function sampleReport(): EvalReportInput {
  const rng = mulberry32(21);
  const classes = ['Cardiomegaly', 'Edema', 'Pleural Effusion <L>'];
  const labels: number[][] = [];
  const scores: number[][] = [];
  for (let i = 0; i < 200; i++) {
    const y = classes.map(() => (rng() < 0.3 ? 1 : 0));
    labels.push(y);
    scores.push(y.map((v, j) => 1 / (1 + Math.exp(-(v * (1 + j * 0.5) + gaussian(rng) - 0.5)))));
  }
  const auroc = aurocWithCI(scores, labels, classes, { seed: 1 });
  const roc = classes.map((name, j) => ({ name, ...rocCurve(scores.map((s) => s[j]!), labels.map((l) => l[j]!)), auroc: auroc.perClass[j]!.auroc }));
  const probs = scores.map((s) => [1 - s[0]!, s[0]!]);
  const y0 = labels.map((l) => l[0]!);
  return {
    title: 'Zero-shot CheXpert-5 & friends',
    subtitle: 'synthetic scores, seed 21',
    metrics: [{ name: 'macro AUROC', value: auroc.macro.auroc }, { name: 'ECE (Cardiomegaly)', value: expectedCalibrationError(probs, y0, 10), note: '10 bins' }],
    auroc,
    roc,
    reliability: { bins: reliabilityBins(probs, y0, 10), ece: expectedCalibrationError(probs, y0, 10) },
  };
}

/** Strict well-formedness check: every tag closed in order, void elements self-closed, entities known. */
function checkWellFormed(html: string): string[] {
  const body = html.replace(/^<!DOCTYPE html>\s*/, '');
  const stack: string[] = [];
  const tags: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const between = body.slice(last, m.index);
    assert.ok(!between.includes('<') && !between.includes('>'), `stray angle bracket near: ${between.slice(0, 60)}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|#39);)/.test(between), `bare ampersand near: ${between.slice(0, 60)}`);
    last = re.lastIndex;
    const [, close, name, , self] = m;
    if (close) assert.equal(stack.pop(), name, `closing </${name}>`);
    else if (!self) stack.push(name!);
    if (!close) tags.push(name!);
  }
  assert.equal(body.slice(last).trim(), '');
  assert.deepEqual(stack, []);
  return tags;
}

test('the HTML report is well-formed, self-contained and holds the SVG charts and tables', () => {
  const html = renderEvalReport(sampleReport());
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  const tags = checkWellFormed(html);
  assert.equal(tags.filter((t) => t === 'svg').length, 3 + 1); // 3 ROC curves + reliability diagram
  assert.equal(tags.filter((t) => t === 'polyline').length, 3);
  assert.ok(tags.filter((t) => t === 'rect').length > 5);
  assert.ok(tags.includes('table'));
  assert.ok(!/<(script|link|img|iframe)\b/i.test(html), 'no external assets or scripts');
  assert.ok(!/(src|href)=/i.test(html));
  assert.ok(!/url\(/i.test(html));
  assert.ok(html.includes('Pleural Effusion &lt;L&gt;'));
  assert.ok(html.includes('CheXpert-5 &amp; friends'));
  assert.match(html, /macro<\/th><th>0\.\d{3}<\/th><th>0\.\d{3} – 0\.\d{3}<\/th>/);
  assert.match(html, /1000 bootstrap resamples/);
});

test('escapeHtml escapes markup characters', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});
