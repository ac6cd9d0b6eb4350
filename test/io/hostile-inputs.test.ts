// Careless and hostile inputs to the readers (issue 15): a chunked DICOMweb body with no end, manifests whose rows
// would silently change an answer, and folders holding symlinks, FIFOs and names that are not UTF-8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OUTCOME, runChild } from './child-rss.ts';

const CEILING_MIB = 320;

test('a chunked DICOMweb body is abandoned once it passes maxBytes, not buffered whole (child peak RSS checked)', () => {
  const r = runChild(`
    import { createServer } from 'node:http';
    import { DicomWebClient } from '$ROOT/src/io/dicomweb.ts';
    ${OUTCOME}
    let sent = 0;
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' }); // chunked: no length
      const chunk = Buffer.alloc(1 << 20, 1);
      const pump = () => { while (!res.destroyed && sent < 1 << 30) { sent += chunk.length; if (!res.write(chunk)) return void res.once('drain', pump); } if (sent >= 1 << 30) res.end(); };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const root = 'http://127.0.0.1:' + (server.address() as { port: number }).port + '/dicom-web';
    const client = new DicomWebClient(root, { maxBytes: 32 << 20 });
    const out = await outcome(() => client.retrieveInstance('1.2', '1.3', '1.4'));
    server.closeAllConnections();
    server.close();
    report({ ...(out as object), sentMiB: Math.round(sent / 2 ** 20) });
  `);
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  const out = r.result as { error: string; message: string; sentMiB: number };
  assert.equal(out.error, 'LimitError');
  assert.match(out.message, /\/studies\/1\.2\/series\/1\.3\/instances\/1\.4: response passed maxBytes 33554432 after \d+ bytes \(it gave no Content-Length\)/);
  assert.ok(out.sentMiB < 512, `the server got to send ${out.sentMiB} MiB`);
  assert.ok(r.maxRssMiB < CEILING_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
});
