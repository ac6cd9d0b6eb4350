// The index walks folders as every command does: symbolic links are followed (Hugging Face snapshots, DVC and
// git-annex folders are links to blobs), and what cannot be read (a broken link, a loop) is listed with why.
// Before, the ingest's own walk ignored links: a folder of links indexed nothing and said nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel, listSources, openIndex } from '../../src/index.ts';
import { DATA, FIXTURES, isolateCache, tempDir } from '../helpers/reference.ts';

isolateCache();
const CXR = join(DATA, 'pneumonia-cxr/test/NORMAL');

test('index: linked files and folders in a folder are indexed under their link paths; a broken link and a loop are skipped with why', async () => {
  const dir = tempDir();
  const folder = join(dir, 'snapshot');
  const blobs = join(dir, 'blobs');
  mkdirSync(folder);
  mkdirSync(blobs);
  const [a, b] = readdirSync(CXR).filter((f) => f.endsWith('.jpeg')).sort().slice(0, 2).map((f) => join(CXR, f));
  symlinkSync(a!, join(folder, 'a.jpeg'));
  symlinkSync(b!, join(blobs, 'b.jpeg'));
  symlinkSync(blobs, join(folder, 'more'));
  symlinkSync(join(dir, 'gone.jpeg'), join(folder, 'broken.jpeg'));
  symlinkSync(folder, join(folder, 'loop'));

  const listed = await listSources([folder]);
  assert.deepEqual(listed.items.map((i) => i.source), [join(folder, 'a.jpeg'), join(folder, 'more/b.jpeg')]);
  assert.deepEqual(listed.skipped.map((s) => s.input), [join(folder, 'broken.jpeg'), join(folder, 'loop')]);
  assert.match(listed.skipped[0]!.reason, /broken symbolic link/);
  assert.match(listed.skipped[1]!.reason, /loop/);

  const model = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  const index = await openIndex(join(dir, 'db'));
  try {
    const r = await index.add(model, [folder]);
    assert.equal(r.written, 2);
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.skipped.map((s) => s.input), [join(folder, 'broken.jpeg'), join(folder, 'loop')]);
    const paths = (await (await index.pickTable()).table.query().select(['path']).toArray()).map((x) => String(x.path)).sort();
    assert.deepEqual(paths, [join(folder, 'a.jpeg'), join(folder, 'more/b.jpeg')]);
  } finally {
    index.close();
    await model.release();
  }
});
