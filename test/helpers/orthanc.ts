// A throwaway Orthanc server with the DICOMweb plugin for tests: loopback only, free HTTP port, DICOM
// port off, storage in a temporary folder that is deleted on stop. Needs the Debian packages `orthanc`
// and `orthanc-dicomweb`.
//
//   const orthanc = await startOrthanc();
//   try { await orthanc.upload(bytes); fetch(`${orthanc.dicomWeb}/studies`) } finally { await orthanc.stop(); }
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OrthancServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** the DICOMweb root, e.g. http://127.0.0.1:41234/dicom-web */
  dicomWeb: string;
  /** headers that authenticate against this server ({} when authentication is off) */
  headers: Record<string, string>;
  /** POST /instances; returns the UIDs Orthanc parsed */
  upload(bytes: Uint8Array): Promise<{ id: string; study: string; series: string; instance: string }>;
  /** stdout and stderr so far */
  log(): string;
  stop(): Promise<void>;
}

export interface OrthancOptions {
  /** turn authentication on with this one user */
  user?: { name: string; password: string };
  /** ms to wait for the server to answer (default 30 s) */
  startTimeoutMs?: number;
}

const BINARIES = ['/usr/sbin/Orthanc', '/usr/bin/Orthanc'];
const PLUGINS = ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so', '/usr/lib/orthanc/libOrthancDicomWeb.so'];
const INSTALL = 'apt-get install -y orthanc orthanc-dicomweb';

function findBinary(): string {
  const found = [process.env.CLIPMED_ORTHANC, ...BINARIES].find((p) => p && existsSync(p));
  if (!found) throw new Error(`Orthanc is not installed (looked for ${BINARIES.join(', ')}); install it with: ${INSTALL}`);
  return found;
}

function findPlugin(): string {
  const known = [process.env.CLIPMED_ORTHANC_DICOMWEB, ...PLUGINS].find((p) => p && existsSync(p));
  if (known) return known;
  // Ask dpkg where the package put it, in case a release moves it.
  const listed = spawnSync('dpkg', ['-L', 'orthanc-dicomweb'], { encoding: 'utf8' });
  const lib = (listed.stdout ?? '').split('\n').find((l) => /libOrthancDicomWeb\.so/.test(l) && existsSync(l));
  if (!lib) throw new Error(`the Orthanc DICOMweb plugin is not installed (looked in ${PLUGINS.join(', ')}); install it with: ${INSTALL}`);
  return lib;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Start Orthanc on a free loopback port; throws with install instructions when it is missing. */
export async function startOrthanc(options: OrthancOptions = {}): Promise<OrthancServer> {
  const binary = findBinary();
  const plugin = findPlugin();
  const dir = mkdtempSync(join(tmpdir(), 'clipmed-orthanc-'));
  const port = await freePort();
  const user = options.user;
  const config = {
    Name: 'clipmed-test',
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'index'),
    HttpPort: port,
    DicomServerEnabled: false,
    DicomPort: await freePort(),
    RemoteAccessAllowed: false,
    AuthenticationEnabled: Boolean(user),
    RegisteredUsers: user ? { [user.name]: user.password } : {},
    Plugins: [plugin],
    DicomWeb: { Enable: true, Root: '/dicom-web/' },
    HttpTimeout: 30,
  };
  writeFileSync(join(dir, 'orthanc.json'), JSON.stringify(config, null, 1));
  let output = '';
  const child: ChildProcess = spawn(binary, [join(dir, 'orthanc.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exited: number | null | undefined;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', (code) => { exited = code; resolve(); }));
  child.once('error', (err) => { output += String(err); exited = -1; });

  const url = `http://127.0.0.1:${port}`;
  const headers: Record<string, string> = user ? { authorization: `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}` } : {};
  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = await Promise.race([exitPromise.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10_000)))]);
      clearTimeout(timer);
      if (!killed) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`Orthanc exited with code ${exited} before answering:\n${output.slice(-4000)}`);
    }
    try {
      const res = await fetch(`${url}/system`, { headers, signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        const plugins = (await (await fetch(`${url}/plugins`, { headers })).json()) as string[];
        if (!plugins.includes('dicom-web')) {
          await stop();
          throw new Error(`Orthanc started without the DICOMweb plugin (${plugin}); plugins: ${plugins.join(', ')}\n${output.slice(-4000)}`);
        }
        break;
      }
    } catch (err) {
      if (err instanceof Error && /DICOMweb plugin/.test(err.message)) throw err;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Orthanc did not answer on ${url} within ${options.startTimeoutMs ?? 30_000} ms:\n${output.slice(-4000)}`);
    }
    await sleep(100);
  }

  return {
    url,
    dicomWeb: `${url}/dicom-web`,
    headers,
    log: () => output,
    stop,
    async upload(bytes) {
      const res = await fetch(`${url}/instances`, { method: 'POST', headers: { ...headers, 'content-type': 'application/dicom' }, body: new Uint8Array(bytes) });
      if (!res.ok) throw new Error(`Orthanc refused the upload: HTTP ${res.status} ${await res.text()}`);
      const { ID } = (await res.json()) as { ID: string };
      const tags = (await (await fetch(`${url}/instances/${ID}/tags?simplify`, { headers })).json()) as Record<string, string>;
      return { id: ID, study: tags.StudyInstanceUID!, series: tags.SeriesInstanceUID!, instance: tags.SOPInstanceUID! };
    },
  };
}
