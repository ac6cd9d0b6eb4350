// Cached graphs are not trusted (issue 15): bytes flipped in a cached vision.onnx.data gave other embeddings with
// exit 0, and a truncated one crashed every later run. The size and sha256 of each graph file are recorded when
// it is written; a file that no longer matches, or an unreadable meta.json, is rebuilt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModel } from '../../src/node/compile.ts';
import { resolveLocalSource } from '../../src/node/source.ts';
import { FIXTURES } from '../helpers/reference.ts';

test('a cached graph with flipped bytes, a truncated one, or an empty meta.json is rebuilt to the same bytes', async () => {
  const saved = process.env.CLIPMED_CACHE;
  process.env.CLIPMED_CACHE = mkdtempSync(join(tmpdir(), 'clipmed-cache-'));
  try {
    const src = await resolveLocalSource(join(FIXTURES, 'tiny-quickgelu'));
    const first = await compileModel(src);
    assert.equal(first.cached, false);
    assert.deepEqual(Object.keys(first.meta.graphFiles ?? {}).sort(), ['text.onnx', 'text.onnx.data', 'vision.onnx', 'vision.onnx.data']);
    const data = join(first.dir, 'vision.onnx.data');
    const original = readFileSync(data);
    assert.equal((await compileModel(src)).cached, true);

    const logs: string[] = [];
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1]! ^= 0x40;
    writeFileSync(data, flipped);
    const again = await compileModel(src, {}, (m) => logs.push(m));
    assert.equal(again.cached, false);
    assert.match(logs.join('\n'), /vision\.onnx\.data: sha256 .* recorded\); rebuilding/);
    assert.ok(readFileSync(data).equals(original), 'the rebuilt weights equal the first build');

    truncateSync(join(first.dir, 'text.onnx.data'), 100);
    logs.length = 0;
    assert.equal((await compileModel(src, {}, (m) => logs.push(m))).cached, false);
    assert.match(logs.join('\n'), /text\.onnx\.data: 100 bytes, \d+ recorded/);

    writeFileSync(join(first.dir, 'meta.json'), '');
    logs.length = 0;
    const fromEmpty = await compileModel(src, {}, (m) => logs.push(m));
    assert.equal(fromEmpty.cached, false);
    assert.match(logs.join('\n'), /meta\.json is unreadable/);
    assert.equal((await compileModel(src)).cached, true);
    assert.ok(readFileSync(data).equals(original));
  } finally {
    if (saved === undefined) delete process.env.CLIPMED_CACHE;
    else process.env.CLIPMED_CACHE = saved;
  }
});
