// Writing the command line's output files: whole or not at all (a temporary file beside the target, renamed
// over it), so that an interrupted run never leaves half a PNG or half a probe where a good one was.
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Write `data` to `path` atomically: into `.<name>.<random>.tmp` in the same folder, then renamed.
 * @example await writeFileAtomic('maps/chest-effusion.png', png)
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
