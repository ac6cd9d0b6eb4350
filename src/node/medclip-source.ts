// MedCLIP's published layout as a model source (RyanWangZf/MedCLIP medclip/modeling_medclip.py
// MedCLIPModel.from_pretrained): the release zip (downloaded for `--model medclip-vit` / `medclip-resnet`, or given
// as a path), or the folder it unzips to (MedCLIP's ./pretrained/medclip-vit), holding pytorch_model.bin; the
// architecture comes from two hub repositories as MedCLIP's AutoModel/AutoTokenizer calls get it: the Swin config
// of microsoft/swin-tiny-patch4-window7-224 (MedCLIP-ViT only) and Bio_ClinicalBERT's config.json and vocab.txt,
// fetched through the hub client (HF_ENDPOINT, the huggingface_hub cache, HF_HUB_OFFLINE).
import { createHash } from 'node:crypto';
import { mkdir, readdir, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { MEDCLIP_REPOS, MEDCLIP_WEIGHTS } from '../models/readers/medclip.ts';
import type { ResolvedSource } from '../models/source.ts';
import { folderFiles } from './files.ts';
import { exists } from './hub/cache.ts';
import { resolveHubSnapshot } from './hub/resolve.ts';
import { cacheRoot } from './graph-cache.ts';
import { fetchRelease, unzipMember, type ReleaseOptions } from './release.ts';

/** Which image tower MedCLIP's code would build: its vision_cls (MedCLIPVisionModelViT or MedCLIPVisionModel). */
export type MedclipVision = 'swin' | 'resnet';

/**
 * A local path in MedCLIP's layout: a .zip file, or a folder with pytorch_model.bin and no config.json,
 * open_clip_config.json or meta.yaml (CONCH) beside it (the unzipped release).
 */
export async function isMedclipLocal(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (!st) return false;
  if (st.isFile()) return /\.zip$/i.test(path);
  if (!st.isDirectory()) return false;
  const names = await readdir(path);
  return names.includes(MEDCLIP_WEIGHTS) && !['config.json', 'open_clip_config.json', 'meta.yaml'].some((n) => names.includes(n));
}

/**
 * The image tower a file or folder name suggests, as MedCLIP names them: its ResNet zip is medclip-pretrained.zip and
 * unzips to ./pretrained/medclip-resnet; its ViT zip is medclip-vit-pretrained.zip (./pretrained/medclip-vit). Other
 * names count as ViT unless they say resnet (the reader still tells the tower by the keys; a ResNet named otherwise
 * only costs fetching the unused Swin config).
 * @example medclipVisionFromName('/downloads/medclip-pretrained.zip') // 'resnet'
 */
export function medclipVisionFromName(path: string): MedclipVision {
  const name = basename(path).toLowerCase();
  return name === 'medclip-pretrained.zip' || name.includes('resnet') ? 'resnet' : 'swin';
}

/** The folder a local zip unzips to in the cache, keyed by its real path, size and modification time. */
async function unzipDir(zip: string): Promise<string> {
  const st = await stat(zip);
  const key = createHash('sha256').update(`${await realpath(zip)}\n${st.size}\n${st.mtimeMs}`).digest('hex').slice(0, 16);
  return join(cacheRoot(), 'releases', 'unzipped', key);
}

/** pytorch_model.bin of a MedCLIP zip, unzipped once into `dir`. */
async function weightsOf(zip: string, dir: string): Promise<string> {
  const weights = join(dir, MEDCLIP_WEIGHTS);
  if (!(await exists(weights))) {
    await mkdir(dir, { recursive: true });
    await unzipMember(zip, MEDCLIP_WEIGHTS, weights);
  }
  return weights;
}

/**
 * A MedCLIP source from its weights file: the two hub repositories' files fetched beside it.
 * @example (await medclipSource('/models/medclip-vit/pytorch_model.bin', 'swin')).format // 'medclip'
 */
export async function medclipSource(weightsFile: string, vision: MedclipVision, name: string, o: ReleaseOptions = {}): Promise<ResolvedSource> {
  const opts = { onProgress: o.onProgress, onWarning: o.log };
  const bert = await resolveHubSnapshot(`hf-hub:${MEDCLIP_REPOS.bert}`, { ...opts, files: ['config.json', 'vocab.txt', { oneOf: ['tokenizer_config.json'], optional: true }] });
  const files = folderFiles(bert.folder, bert.files.filter((f): f is string => f !== undefined));
  const swin = vision === 'swin' ? await resolveHubSnapshot(`hf-hub:${MEDCLIP_REPOS.swin}`, { ...opts, files: ['config.json'] }) : undefined;
  const visionFiles = swin ? folderFiles(swin.folder, ['config.json']) : undefined;
  // every file that shapes the graphs or the token ids goes into the graph cache key
  const vocabHash = createHash('sha256').update(files.read('vocab.txt')!).digest('hex');
  const text = (f: typeof files | undefined, n: string) => (f?.read(n) ? new TextDecoder().decode(f.read(n)) : '');
  const configText = [text(visionFiles, 'config.json'), text(files, 'config.json'), text(files, 'tokenizer_config.json'), `vocab.txt ${vocabHash}`].join('\n');
  return { name, format: 'medclip', weightsFile, files, visionFiles, configText };
}

/**
 * A local zip or unzipped folder in MedCLIP's layout.
 * @example (await resolveMedclipLocal('medclip-vit-pretrained.zip')).weightsFile // '<cache>/releases/unzipped/<key>/pytorch_model.bin'
 */
export async function resolveMedclipLocal(path: string, o: ReleaseOptions = {}): Promise<ResolvedSource> {
  const st = await stat(path);
  const weights = st.isDirectory() ? join(path, MEDCLIP_WEIGHTS) : await weightsOf(path, await unzipDir(path));
  if (!(await exists(weights))) throw new ConfigError(`no ${MEDCLIP_WEIGHTS} in the folder`, { file: path });
  return medclipSource(weights, medclipVisionFromName(path), basename(path), o);
}

/**
 * A registered MedCLIP release: the zip downloaded into the cache (CLIPMED_RELEASE_ENDPOINT names a mirror),
 * unzipped beside itself.
 */
export async function resolveMedclipRelease(url: string, vision: MedclipVision, name: string, o: ReleaseOptions = {}): Promise<ResolvedSource> {
  const zip = await fetchRelease(url, o);
  const weights = await weightsOf(zip, join(zip, '..', 'unzipped'));
  return medclipSource(weights, vision, name, o);
}
