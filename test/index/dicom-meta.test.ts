// What an archive row keeps of a DICOM file: modality, body part, UIDs hashed with the database's salt
// (as they are with --phi), one row per frame with --frames; never the patient's name, ID or birth date.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClipModel, nearDuplicateGroups, hybridOrder, redisConnection, openIndex, ConfigError } from '../../src/index.ts';
import { DATA, FIXTURES, isolateCache, tempDir } from '../helpers/reference.ts';

isolateCache();
const CT = join(DATA, 'dicom/dicomParser-testImages/CT1_UNC.explicit_little_endian.dcm'); // patient CompressedSamples^CT1, ID 1CT1
const MR = join(DATA, 'dicom/pydicom-data/emri_small.dcm'); // 10 frames, body part HEAD, birth date 20000101
const SC = join(DATA, 'dicom/pydicom-data/SC_rgb_2frame.dcm'); // patient Lestrade^G, ID ID1
const UID = { CT: '1.3.6.1.4.1.5962.1.2.1.20040826185059.5457', MR: '1.2.826.0.1.3680043.2.1143.3365540476747857567072393009509418480' };
const IDENTIFIERS = ['CompressedSamples', '1CT1', 'Lestrade', '20000101'];

function allBytes(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) parts.push(allBytes(p));
    else if (statSync(p).isFile()) parts.push(readFileSync(p));
  }
  return Buffer.concat(parts);
}

test('DICOM rows: hashed UIDs (salted per database), modality and body part, frames, no patient identifiers', async () => {
  const model = await ClipModel.load(join(FIXTURES, 'tiny-quickgelu'), { threads: 1 });
  try {
    const dirs = [tempDir(), tempDir(), tempDir()].map((d) => join(d, 'db'));
    const results = [];
    for (const [i, dir] of dirs.entries()) {
      const index = await openIndex(dir);
      try {
        const r = await index.add(model, [CT, MR, SC], { frames: i === 0, phi: i === 2 });
        assert.deepEqual(r.failures, []);
        const table = await index.pickTable();
        const rows = await table.table.query().select(['path', 'frame', 'modality', 'body_part', 'study_uid', 'series_uid', 'instance_uid', 'phi']).toArray();
        results.push(new Map(rows.map((x) => [x.path as string, x as Record<string, unknown>])));
      } finally {
        index.close();
      }
    }
    const [framed, hashed, phi] = results as [Map<string, Record<string, unknown>>, Map<string, Record<string, unknown>>, Map<string, Record<string, unknown>>];
    // --frames: one row per frame (1 + 10 + 2); default: one per file
    assert.equal(framed.size, 13);
    assert.ok(framed.has(`${MR}#frame=9`) && framed.get(`${MR}#frame=9`)!.frame === 9);
    assert.equal(hashed.size, 3);
    const ct = hashed.get(CT)!;
    assert.equal(ct.modality, 'CT');
    assert.equal(hashed.get(MR)!.modality, 'MR');
    assert.equal(hashed.get(MR)!.body_part, 'HEAD');
    // UIDs: 32 hex digits, not the UID; another database (another salt) hashes it differently; --phi keeps it
    assert.match(String(ct.study_uid), /^[0-9a-f]{32}$/);
    assert.notEqual(ct.study_uid, UID.CT);
    assert.notEqual(framed.get(CT)!.study_uid, ct.study_uid);
    assert.equal(ct.phi, false);
    assert.equal(phi.get(CT)!.study_uid, UID.CT);
    assert.equal(phi.get(MR)!.study_uid, UID.MR);
    assert.equal(phi.get(CT)!.phi, true);
    // no patient name, ID or birth date anywhere in the database's files, even with --phi
    for (const dir of dirs) {
      const bytes = allBytes(dir);
      for (const id of IDENTIFIERS) assert.equal(bytes.indexOf(id), -1, `${id} found in ${dir}`);
    }
  } finally {
    await model.release();
  }
});

test('near-duplicate groups link pairs above the threshold (single linkage)', () => {
  const v = (x: number, y: number) => [x / Math.hypot(x, y), y / Math.hypot(x, y)];
  const vectors = Float32Array.from([...v(1, 0), ...v(1, 0.01), ...v(1, 0.02), ...v(0, 1), ...v(-1, 0)]);
  const groups = nearDuplicateGroups(['a', 'b', 'c', 'd', 'e'], vectors, 2, 0.9999);
  assert.deepEqual(groups.map((g) => g.paths), [['a', 'b', 'c']]);
  assert.ok(groups[0]!.minScore >= 0.9999 && groups[0]!.minScore < 1);
  assert.deepEqual(nearDuplicateGroups(['a', 'b'], vectors.subarray(0, 4), 2, 1.5), []);
});

test('hybrid order adds the scaled keyword score to the cosine', () => {
  // x: 0.5 + 0; y: 0.45 + 0.5 * 1/4; z: 0.4 + 0.5 * 1
  const c: Array<{ path: string; score: number; keyword?: number }> = [
    { path: 'x', score: 0.5 },
    { path: 'y', score: 0.45 },
    { path: 'z', score: 0.4 },
  ];
  const out = hybridOrder(c, new Map([['z', 4], ['y', 1]]), 0.5);
  assert.deepEqual(out.map((h) => h.path), ['z', 'y', 'x']);
  assert.deepEqual(out.map((h) => h.keyword), [1, 0.25, 0]);
  assert.equal(out[0]!.score, 0.4, 'the score stays the cosine');
});

test('queue URLs: redis://HOST:PORT[/DB] with credentials; anything else is a ConfigError', () => {
  assert.deepEqual(redisConnection('redis://127.0.0.1:6390/2'), { host: '127.0.0.1', port: 6390, db: 2, password: undefined, username: undefined, maxRetriesPerRequest: null });
  assert.equal((redisConnection('redis://:s%40cret@h') as { password: string }).password, 's@cret');
  assert.throws(() => redisConnection('http://h:1'), ConfigError);
  assert.throws(() => redisConnection('not a url'), ConfigError);
});
