// DICOMweb against a real Orthanc (Debian orthanc + orthanc-dicomweb), started by the test on loopback.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import dicomParser from 'dicom-parser';
import { ConfigError, DecodeError, NetworkError } from '../../src/errors.ts';
import { DicomWebClient, dicomJsonString, parseDicomWebUrl, parseMultipart, resolveDicomWebUrl } from '../../src/io/dicomweb.ts';
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.ts';
import { decodeDicom } from '../../src/io/dicom/index.ts';
import { join } from 'node:path';
import { DATA } from '../helpers/reference.ts';

const DICOM = join(DATA, 'dicom') + '/';
const FILES = [
  'dicomParser-testImages/CT1_UNC.explicit_little_endian.dcm',
  'pydicom-data/JPEG-LL.dcm', // JPEG lossless: must come back as stored, not transcoded
  'pydicom-data/SC_rgb_2frame.dcm',
  'pydicom-data/693_UNCR.dcm',
];
type Uids = { study: string; series: string; instance: string };

describe('DICOMweb against Orthanc', () => {
  let orthanc: OrthancServer;
  const uploaded = new Map<string, Uids>();
  const local = new Map<string, Uint8Array>();

  before(async () => {
    orthanc = await startOrthanc();
    for (const f of FILES) {
      const bytes = new Uint8Array(readFileSync(DICOM + f));
      local.set(f, bytes);
      uploaded.set(f, await orthanc.upload(bytes));
    }
  });
  after(async () => {
    await orthanc?.stop();
  });

  it('QIDO-RS lists studies, series and instances, with filters', async () => {
    const dw = new DicomWebClient(orthanc.dicomWeb);
    const studies = await dw.searchStudies();
    const want = new Set([...uploaded.values()].map((u) => u.study));
    assert.deepEqual(new Set(studies.map((s) => dicomJsonString(s, '0020000D'))), want);
    const ct = uploaded.get(FILES[0]!)!;
    const one = await dw.searchStudies({ StudyInstanceUID: ct.study });
    assert.equal(one.length, 1);
    assert.equal(dicomJsonString(one[0]!, '00080061'), 'CT'); // ModalitiesInStudy
    const series = await dw.searchSeries(ct.study);
    assert.deepEqual(series.map((s) => dicomJsonString(s, '0020000E')), [ct.series]);
    const inst = await dw.searchInstances(ct.study, ct.series);
    assert.deepEqual(inst.map((s) => dicomJsonString(s, '00080018')), [ct.instance]);
    assert.deepEqual(await dw.searchStudies({ StudyInstanceUID: '1.2.3.4.5.6.7.8.9' }), []);
  });

  it('WADO-RS returns each instance exactly as stored (compressed ones too)', async () => {
    const dw = new DicomWebClient(orthanc.dicomWeb);
    for (const f of FILES) {
      const u = uploaded.get(f)!;
      const bytes = await dw.retrieveInstance(u.study, u.series, u.instance);
      assert.equal(bytes.length, local.get(f)!.length, f);
      assert.ok(Buffer.from(bytes).equals(Buffer.from(local.get(f)!)), `${f}: bytes differ`);
      const ds = dicomParser.parseDicom(bytes);
      assert.equal(ds.string('x00080018'), u.instance);
    }
    const ct = uploaded.get(FILES[0]!)!;
    const all = await dw.retrieveAll(ct.study, ct.series);
    assert.equal(all.length, 1);
    assert.ok(Buffer.from(all[0]!).equals(Buffer.from(local.get(FILES[0]!)!)));
    assert.equal((await dw.retrieveAll(ct.study)).length, 1);
  });

  it('pixels retrieved over WADO-RS equal the local decoding of the same file', async () => {
    const dw = new DicomWebClient(orthanc.dicomWeb);
    for (const f of FILES) {
      const u = uploaded.get(f)!;
      const remote = await decodeDicom(await dw.retrieveInstance(u.study, u.series, u.instance), { source: f });
      const here = await decodeDicom(local.get(f)!, { source: f });
      assert.deepEqual([remote.rows, remote.columns, remote.frames, remote.samplesPerPixel], [here.rows, here.columns, here.frames, here.samplesPerPixel]);
      assert.ok(Buffer.from(remote.data.buffer).equals(Buffer.from(here.data.buffer)), `${f}: pixels differ`);
    }
  });

  it('WADO-RS frames are the stored frame bytes of a multi-frame instance', async () => {
    const f = 'pydicom-data/SC_rgb_2frame.dcm';
    const u = uploaded.get(f)!;
    const ds = dicomParser.parseDicom(local.get(f)!);
    const pixel = ds.elements.x7fe00010!;
    const frameBytes = 100 * 100 * 3;
    assert.equal(pixel.length, 2 * frameBytes);
    const [second] = await new DicomWebClient(orthanc.dicomWeb).retrieveFrames(u.study, u.series, u.instance, [2]);
    assert.ok(second);
    assert.ok(Buffer.from(second).equals(Buffer.from(local.get(f)!.subarray(pixel.dataOffset + frameBytes, pixel.dataOffset + 2 * frameBytes))));
  });

  it('resolveDicomWebUrl expands study, series and instance URLs', async () => {
    const host = orthanc.dicomWeb.replace(/^http/, 'dicomweb+http');
    const ct = uploaded.get(FILES[0]!)!;
    const byInstance = await resolveDicomWebUrl(`${host}/studies/${ct.study}/series/${ct.series}/instances/${ct.instance}`);
    assert.deepEqual(byInstance.map((x) => x.source), [`${host}/studies/${ct.study}/series/${ct.series}/instances/${ct.instance}`]);
    assert.ok(Buffer.from(byInstance[0]!.bytes).equals(Buffer.from(local.get(FILES[0]!)!)));
    const bySeries = await resolveDicomWebUrl(`${host}/studies/${ct.study}/series/${ct.series}`);
    assert.deepEqual(bySeries.map((x) => x.source), byInstance.map((x) => x.source));
    const mf = uploaded.get('pydicom-data/SC_rgb_2frame.dcm')!;
    const byStudy = await resolveDicomWebUrl(`${host}/studies/${mf.study}/`);
    assert.equal(byStudy.length, 1);
    assert.ok(Buffer.from(byStudy[0]!.bytes).equals(Buffer.from(local.get('pydicom-data/SC_rgb_2frame.dcm')!)));
    await assert.rejects(resolveDicomWebUrl(`${host}/studies/1.2.3.999`), (e: unknown) => e instanceof NetworkError && e.status === 404);
  });

  it('HTTP errors carry the status and name the URL', async () => {
    const dw = new DicomWebClient(orthanc.dicomWeb);
    const ct = uploaded.get(FILES[0]!)!;
    await assert.rejects(dw.retrieveInstance(ct.study, ct.series, '1.2.3.4'), (e: unknown) => {
      assert.ok(e instanceof NetworkError);
      assert.equal(e.status, 404);
      assert.match(e.message, /instances\/1\.2\.3\.4: GET: HTTP 404/);
      return true;
    });
  });
});

describe('DICOMweb authentication, timeouts and refused connections', () => {
  let orthanc: OrthancServer;
  let stub: Server;
  let stubUrl = '';
  const seen: IncomingHttpHeaders[] = [];
  before(async () => {
    orthanc = await startOrthanc({ user: { name: 'alice', password: 's3cret:x' } });
    await orthanc.upload(new Uint8Array(readFileSync(DICOM + FILES[0]!)));
    // answers /slow never and everything else with an empty QIDO result, recording the headers
    stub = createServer((req, res) => {
      seen.push(req.headers);
      if (req.url?.startsWith('/slow')) return;
      res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    const addr = stub.address();
    stubUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(async () => {
    stub?.closeAllConnections();
    stub?.close();
    await orthanc?.stop();
  });

  it('basic auth from options or the URL; 401 without it', async () => {
    await assert.rejects(new DicomWebClient(orthanc.dicomWeb).searchStudies(), (e: unknown) => e instanceof NetworkError && e.status === 401);
    const ok = await new DicomWebClient(orthanc.dicomWeb, { auth: { username: 'alice', password: 's3cret:x' } }).searchStudies();
    assert.equal(ok.length, 1);
    const study = dicomJsonString(ok[0]!, '0020000D')!;
    const url = orthanc.dicomWeb.replace('http://', 'dicomweb+http://alice:s3cret%3Ax@');
    const files = await resolveDicomWebUrl(`${url}/studies/${study}`);
    assert.equal(files.length, 1);
    assert.ok(!files[0]!.source.includes('s3cret'), 'credentials must not appear in sources');
  });

  it('bearer token and extra headers are sent', async () => {
    await new DicomWebClient(`${stubUrl}/root/`, { auth: { bearer: 'tok123' }, headers: { 'x-clipmed': '1' } }).searchStudies({ PatientID: 'A' });
    assert.equal(seen.at(-1)!.authorization, 'Bearer tok123');
    assert.equal(seen.at(-1)!['x-clipmed'], '1');
    assert.match(String(seen.at(-1)!.accept), /application\/dicom\+json/);
  });

  it('a request that gets no answer times out as a NetworkError', async () => {
    await assert.rejects(new DicomWebClient(`${stubUrl}/slow`, { timeoutMs: 200 }).searchStudies(), (e: unknown) => e instanceof NetworkError && /timed out after 200 ms/.test(e.message) && e.status === undefined);
  });

  it('a refused connection is a NetworkError naming the URL', async () => {
    const dead = `http://127.0.0.1:1/dicom-web`;
    await assert.rejects(new DicomWebClient(dead).searchStudies(), (e: unknown) => e instanceof NetworkError && e.message.startsWith(`${dead}/studies: GET failed`));
  });
});

describe('multipart and URL parsing', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  it('parses quoted boundaries, preamble, padding, header-less parts and binary content', () => {
    const body = enc('preamble\r\n--b0 \r\nContent-Type: application/dicom\r\n\r\nAB\r\n--b\r\n--b0\r\n\r\n\u0001\u0002\r\n--b0--\r\nepilogue');
    const parts = parseMultipart(body, 'multipart/related; type="application/dicom"; boundary="b0"', 'x');
    assert.equal(parts.length, 2);
    assert.equal(parts[0]!.headers['content-type'], 'application/dicom');
    assert.equal(new TextDecoder().decode(parts[0]!.body), 'AB\r\n--b');
    assert.deepEqual(Array.from(parts[1]!.body), [1, 2]);
    assert.throws(() => parseMultipart(body.subarray(0, 60), 'multipart/related; boundary=b0', 'cut'), (e: unknown) => e instanceof DecodeError && /^cut: .*truncated/.test(e.message));
    assert.throws(() => parseMultipart(body, 'application/dicom', 'x'), DecodeError);
  });

  it('dicomweb URLs', () => {
    assert.deepEqual(parseDicomWebUrl('dicomweb+https://u:p%40@pacs.example:8443/a/dicom-web/studies/1.2/series/1.3/instances/1.4'), {
      root: 'https://pacs.example:8443/a/dicom-web',
      study: '1.2',
      series: '1.3',
      instance: '1.4',
      auth: { username: 'u', password: 'p@' },
    });
    assert.deepEqual(parseDicomWebUrl('dicomweb+http://h/studies/9'), { root: 'http://h', study: '9' });
    assert.throws(() => parseDicomWebUrl('dicomweb+http://h/dicom-web/series/9'), ConfigError);
    assert.throws(() => parseDicomWebUrl('http://h/studies/9'), ConfigError);
  });
});
