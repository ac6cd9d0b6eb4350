// MedCLIP's published layout served on loopback for tests, as a user would reach it: the hub stand-in
// (hub-server.ts) with the two repositories MedCLIP's code reads (microsoft/swin-tiny-patch4-window7-224's
// config.json, emilyalsentzer/Bio_ClinicalBERT's config.json and vocab.txt), and a plain HTTP server in the place
// of Google Cloud Storage serving the release zip under its published path (/pytrial/medclip-vit-pretrained.zip),
// reached with CLIPMED_RELEASE_ENDPOINT. Files come from test/fixtures/medclip (made by make_medclip.py).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { startHubServer, type HubServer } from './hub-server.ts';
import { DATA } from './reference.ts';

export const MEDCLIP_FIXTURE = new URL('../fixtures/medclip/', import.meta.url).pathname;
export const MEDCLIP_ZIP = join(MEDCLIP_FIXTURE, 'release/medclip-vit-pretrained.zip');

export interface MedclipReference {
  images: string[];
  class_names: string[];
  prompts: Record<string, string[]>;
  input_ids: Record<string, number[][]>;
  pixel_mean: number;
  img_embeds: number[];
  logit_scale: number;
  logits: number[];
  probs: number[];
  /** MedCLIP-ResNet on the same text tower (make_medclip.py) */
  resnet: { img_embeds: number[]; logits: number[]; probs: number[] };
}

export function loadMedclipReference(): MedclipReference {
  return JSON.parse(readFileSync(join(MEDCLIP_FIXTURE, 'reference.json'), 'utf8'));
}

/** The reference's X-rays under shared/data. */
export function medclipImages(ref: MedclipReference): string[] {
  return ref.images.map((p) => join(DATA, p));
}

export interface MedclipServers {
  hub: HubServer;
  /** what CLIPMED_RELEASE_ENDPOINT should be */
  releaseEndpoint: string;
  /** GET requests for the zip so far */
  zipDownloads(): number;
  stop(): Promise<void>;
}

export async function startMedclipServers(): Promise<MedclipServers> {
  const hub = await startHubServer({
    repo: 'microsoft/swin-tiny-patch4-window7-224',
    source: join(MEDCLIP_FIXTURE, 'hub/swin'),
    files: ['config.json'],
    extraRepos: [{ repo: 'emilyalsentzer/Bio_ClinicalBERT', source: join(MEDCLIP_FIXTURE, 'hub/bert'), files: ['config.json', 'vocab.txt'] }],
  });
  const zip = readFileSync(MEDCLIP_ZIP);
  let gets = 0;
  const server = createServer((req, res) => {
    if (req.url !== '/pytrial/medclip-vit-pretrained.zip') return void res.writeHead(404).end();
    if (req.method === 'GET') gets++;
    res.writeHead(200, { 'content-length': String(zip.length), 'content-type': 'application/zip', etag: '"medclip-test"' });
    res.end(req.method === 'HEAD' ? undefined : zip);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let stopped = false;
  return {
    hub,
    releaseEndpoint: `http://127.0.0.1:${port}`,
    zipDownloads: () => gets,
    async stop() {
      if (stopped) return;
      stopped = true;
      await hub.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
