// MedCLIP's published layout served on loopback for tests, as a user would reach it: the hub stand-in
// (hub-server.ts) with the two repositories MedCLIP's code reads (microsoft/swin-tiny-patch4-window7-224's
// config.json, emilyalsentzer/Bio_ClinicalBERT's config.json and vocab.txt), and a plain HTTP server in the place
// of Google Cloud Storage serving the release zip under its published path (/pytrial/medclip-vit-pretrained.zip),
// reached with CLIPMED_RELEASE_ENDPOINT. Files come from test/fixtures/medclip (made by make_medclip.py).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import type { StateDict } from '../../src/checkpoint/types.ts';
import { readCheckpointBytes } from '../../src/checkpoint/load.ts';
import { readCheckpoint } from '../../src/node/checkpoint-files.ts';
import { writeTorchZip } from '../../src/train/torch-zip.ts';
import { startHubServer, type HubServer } from './hub-server.ts';
import { DATA } from './reference.ts';

export const MEDCLIP_FIXTURE = new URL('../fixtures/medclip/', import.meta.url).pathname;
export const MEDCLIP_ZIP = join(MEDCLIP_FIXTURE, 'release/medclip-vit-pretrained.zip');
/** MedCLIP-ResNet's release under its published path (medclip/medclip_resnet_weight.txt) */
export const MEDCLIP_RESNET_RELEASE = 'medclip-pretrained.zip';
const TRUNK = new URL('../fixtures/towers/torchvision-resnet/image_model.pt', import.meta.url).pathname;

/**
 * MedCLIPModel(vision_cls=MedCLIPVisionModel).state_dict() as make_medclip.py's MedCLIP-ResNet holds it: the tiny
 * torchvision trunk of the torchvision-resnet tower fixture under vision_model.model.*, its fc (resnet_fc.pt), and
 * the ViT release's text tower and logit_scale.
 */
export async function medclipResnetStateDict(): Promise<StateDict> {
  const release = readCheckpointBytes(unzipSync(readFileSync(MEDCLIP_ZIP))['pytorch_model.bin']!, MEDCLIP_ZIP);
  const sd: StateDict = new Map([...release].filter(([k]) => !k.startsWith('vision_model.')));
  for (const [k, t] of await readCheckpoint(TRUNK)) if (k.startsWith('encoder.encoder.') && !k.startsWith('encoder.encoder.fc.')) sd.set(`vision_model.model.${k.slice('encoder.encoder.'.length)}`, t);
  for (const [k, t] of await readCheckpoint(join(MEDCLIP_FIXTURE, 'resnet_fc.pt'))) sd.set(k, t);
  return sd;
}

/**
 * That state dict as MedCLIP-ResNet's release zip (pytorch_model.bin at its root), less its integer buffers
 * (BatchNorm's num_batches_tracked, BERT's position_ids): clipmed's torch writer writes float32 only, and MedCLIP's
 * forward uses neither.
 */
export async function medclipResnetZip(): Promise<Uint8Array> {
  const floats: StateDict = new Map([...(await medclipResnetStateDict())].filter(([, t]) => t.data instanceof Float32Array));
  return zipSync({ 'pytorch_model.bin': writeTorchZip(floats) });
}

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
  /** GET requests for a release zip so far (default: the ViT's) */
  zipDownloads(name?: string): number;
  stop(): Promise<void>;
}

/** `resnetZip`: served as MedCLIP-ResNet's release beside the ViT's. */
export async function startMedclipServers(options: { resnetZip?: Uint8Array } = {}): Promise<MedclipServers> {
  const hub = await startHubServer({
    repo: 'microsoft/swin-tiny-patch4-window7-224',
    source: join(MEDCLIP_FIXTURE, 'hub/swin'),
    files: ['config.json'],
    extraRepos: [{ repo: 'emilyalsentzer/Bio_ClinicalBERT', source: join(MEDCLIP_FIXTURE, 'hub/bert'), files: ['config.json', 'vocab.txt'] }],
  });
  const zips = new Map<string, Uint8Array>([['medclip-vit-pretrained.zip', readFileSync(MEDCLIP_ZIP)]]);
  if (options.resnetZip) zips.set(MEDCLIP_RESNET_RELEASE, options.resnetZip);
  const gets = new Map<string, number>();
  const server = createServer((req, res) => {
    const name = req.url?.startsWith('/pytrial/') ? req.url.slice('/pytrial/'.length) : '';
    const zip = zips.get(name);
    if (!zip) return void res.writeHead(404).end();
    if (req.method === 'GET') gets.set(name, (gets.get(name) ?? 0) + 1);
    res.writeHead(200, { 'content-length': String(zip.length), 'content-type': 'application/zip', etag: `"medclip-test-${name}"` });
    res.end(req.method === 'HEAD' ? undefined : zip);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let stopped = false;
  return {
    hub,
    releaseEndpoint: `http://127.0.0.1:${port}`,
    zipDownloads: (name = 'medclip-vit-pretrained.zip') => gets.get(name) ?? 0,
    async stop() {
      if (stopped) return;
      stopped = true;
      await hub.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
