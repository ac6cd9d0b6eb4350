// CONCH's tokenizer when the model's folder lacks it: MahmoodLab/conch on the hub holds only meta.yaml and the
// weights, and CONCH's code reads conch_byte_level_bpe_uncased.json from its own Python package
// (conch/open_clip_custom/tokenizers/). clipmed fetches that file as a release file from CONCH's repository at the
// commit the reader was checked against (CONCH_TOKENIZER_URL), into its cache, once; CLIPMED_RELEASE_ENDPOINT
// names a mirror as for other release files. The text tower then checks that the file has its vocabulary's size.
import { basename, dirname } from 'node:path';
import { CONCH_FILES, CONCH_TOKENIZER_URL } from '../models/readers/index.ts';
import type { ResolvedSource } from '../models/source.ts';
import { folderFiles } from './files.ts';
import { fetchRelease, type ReleaseOptions } from './release.ts';

/**
 * A CONCH source with its tokenizer: the folder's own file when it has one, else the published one from the cache
 * (downloaded when missing) as `tokenizerFiles`. Other sources are returned as they are.
 * @example (await withConchTokenizer(await resolveLocalSource('./conch'))).tokenizerFiles?.names // ['conch_byte_level_bpe_uncased.json']
 */
export async function withConchTokenizer(src: ResolvedSource, o: ReleaseOptions = {}): Promise<ResolvedSource> {
  if (src.format !== 'conch' || src.files?.names.includes(CONCH_FILES.tokenizer)) return src;
  o.log?.(`${src.files?.dir ?? src.name} has no ${CONCH_FILES.tokenizer} (CONCH ships it in its Python package); using the published file ${CONCH_TOKENIZER_URL}`);
  const path = await fetchRelease(CONCH_TOKENIZER_URL, o);
  return { ...src, tokenizerFiles: folderFiles(dirname(path), [basename(path)]) };
}
