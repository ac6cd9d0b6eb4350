import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, ShapeError } from '../../src/errors.ts';
import { readFileSync } from 'node:fs';
import { asMatrix } from '../../src/tasks/matrix.ts';
import { evaluateRetrieval, retrievalMetrics, similarityMatrix, topK } from '../../src/tasks/retrieval.ts';

const ref = JSON.parse(readFileSync(new URL('../fixtures/tasks/reference.json', import.meta.url), 'utf8')).retrieval;

test('recall@1/5/10 and median rank agree with the NumPy reference', () => {
  const m = retrievalMetrics(asMatrix(ref.sim, 'sim'), ref.relevant);
  assert.deepEqual(m.recall, { 1: ref.recall['1'], 5: ref.recall['5'], 10: ref.recall['10'] });
  assert.equal(m.medianRank, ref.median_rank);
});
import { composeReport, retrieveTexts, splitSentences } from '../../src/tasks/report-retrieval.ts';

test('similarity, top-k and two-way recall with several captions per image', () => {
  const sim = similarityMatrix([[1, 0]], [[2, 0], [0, 1], [1, 1]]);
  assert.deepEqual(Array.from(sim.data).map((v) => +v.toFixed(4)), [1, 0, 0.7071]);
  assert.deepEqual(topK([0.1, 0.9, 0.5, 0.9], 3).map((t) => t.index), [1, 3, 2]);
  // images 0, 1, 2; texts 0, 1 describe image 0, text 2 image 1, text 3 image 2
  const images = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  const texts = [[0.2, 1, 0], [1, 0.1, 0], [0, 1, 0.1], [0, 0.9, 1]];
  const r = evaluateRetrieval(images, texts, [[0, 1], [2], [3]], [1, 2]);
  // image 0's best text is 1 (rank 1); image 1 ranks text 2 first; image 2 ranks text 3 first
  assert.deepEqual(r.imageToText.recall, { 1: 1, 2: 1 });
  assert.equal(r.imageToText.medianRank, 1);
  // text 0 is closest to image 1 (wrong): rank 2 for its image 0; the others rank 1
  assert.deepEqual(r.textToImage.recall, { 1: 0.75, 2: 1 });
  assert.equal(r.textToImage.medianRank, 1);
  assert.throws(() => evaluateRetrieval(images, texts, [[0], [2], [3]]), ShapeError); // text 1 describes nothing
  assert.throws(() => evaluateRetrieval(images, texts, [[0, 1], [2]]), ShapeError);
  assert.throws(() => topK([1], 0), ConfigError);
});

test('report retrieval ranks the corpus, de-duplicates identical texts and composes a report', () => {
  const corpus = {
    texts: ['No acute cardiopulmonary process.', 'no acute  cardiopulmonary process.', 'Small left effusion.', 'Cardiomegaly.'],
    embeddings: [[1, 0, 0], [1, 0.01, 0], [0.8, 0.6, 0], [0, 0, 1]],
  };
  const top = retrieveTexts([1, 0.2, 0], corpus, 2);
  // text 1 (cos 0.982) beats its duplicate text 0 (0.981), which is dropped; then text 2 (0.902)
  assert.deepEqual(top.map((t) => t.index), [1, 2]);
  assert.ok(Math.abs(top[1]!.score - 0.92 / Math.hypot(1, 0.2)) < 1e-6);
  assert.deepEqual(retrieveTexts([1, 0.2, 0], corpus, 2, { dedupe: false }).map((t) => t.index), [1, 0]);
  const rep = composeReport([0, 0.2, 1], { texts: ['Cardiomegaly', 'Small left effusion.'], embeddings: [[0, 0, 1], [0.8, 0.6, 0]] }, 2);
  assert.equal(rep.report, 'Cardiomegaly. Small left effusion.');
  assert.throws(() => retrieveTexts([1, 0, 0], { texts: [], embeddings: [] }, 1), ShapeError);
  assert.throws(() => retrieveTexts([1, 0, 0], { texts: ['a'], embeddings: [[1, 0]] }, 1), ShapeError);
  assert.throws(() => retrieveTexts([1, 0, 0], { texts: ['a', 'b'], embeddings: [[1, 0, 0]] }, 1), ShapeError);
  assert.throws(() => retrieveTexts([NaN, 0, 0], { texts: ['a'], embeddings: [[1, 0, 0]] }, 1), ShapeError);
});

test('splitSentences keeps decimals, list numbers and abbreviations intact', () => {
  assert.deepEqual(splitSentences('FINDINGS: Heart size is normal. No effusion.\n1. Lines 2.5 cm apart! Dr. Smith was notified.\n\n'), [
    'FINDINGS: Heart size is normal.', 'No effusion.', '1. Lines 2.5 cm apart!', 'Dr. Smith was notified.',
  ]);
  assert.deepEqual(splitSentences('IMPRESSION:\nNo acute process'), ['IMPRESSION:', 'No acute process']);
  assert.deepEqual(splitSentences('   '), []);
});
