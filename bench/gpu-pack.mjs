#!/usr/bin/env node
// Packs what bench/gpu-check.sh needs on a lent GPU machine, which reaches no registry and has no Node.js or
// node_modules (only the tracked tree travels, 64 MiB in all with what `carry` names). Run HERE, from the
// repository root, before the device call:   node bench/gpu-pack.mjs
// then:   run(command: 'bash bench/gpu-check.sh', carry: ['.gpu'], timeout_s: 540)
// Makes .gpu/ (ignored through .git/info/exclude), about 38 MB:
//   gpu-check.mjs     esbuild bundle of bench/gpu-check.ts; onnxruntime-node stays outside it, and `sharp` is a
//                     module that throws when called (the check embeds pixel tensors and decodes no image files)
//   node.xz           this machine's node binary (x86-64 Linux, as the GPU machine)
//   ortnode.tar.xz    node_modules/onnxruntime-node (package.json, dist, bin/napi-v6/linux/x64) and onnxruntime-common
//   libvulkan1_*.deb  the Vulkan loader that onnxruntime-node's WebGPU provider (Dawn) needs (apt-get download)
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, '.gpu');
const gitPath = execFileSync('git', ['-C', root, 'rev-parse', '--git-path', 'info/exclude']).toString().trim();
const exclude = isAbsolute(gitPath) ? gitPath : join(root, gitPath);
mkdirSync(dirname(exclude), { recursive: true });
if (!(existsSync(exclude) ? readFileSync(exclude, 'utf8') : '').split('\n').includes('/.gpu/')) appendFileSync(exclude, '\n/.gpu/\n');
mkdirSync(dir, { recursive: true });

const sharpStub = {
  name: 'sharp-stub',
  setup(b) {
    b.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'sharp-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'sharp-stub' }, () => ({
      contents: "export default function sharp() { throw new Error('sharp is not carried to the GPU machine: the GPU check decodes no image files'); }",
      loader: 'js',
    }));
  },
};
await build({
  entryPoints: [join(root, 'bench/gpu-check.ts')],
  outfile: join(dir, 'gpu-check.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['onnxruntime-node', 'onnxruntime-web'],
  plugins: [sharpStub],
  // bundled CommonJS dependencies call require()
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30, ...opts });
if (!existsSync(join(dir, 'node.xz'))) writeFileSync(join(dir, 'node.xz'), sh('xz', ['-T2', '-9', '-c', process.execPath]));
if (!existsSync(join(dir, 'ortnode.tar.xz'))) {
  const tar = sh('tar', ['-C', root, '-cf', '-', 'node_modules/onnxruntime-node/package.json', 'node_modules/onnxruntime-node/dist', 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64', 'node_modules/onnxruntime-common']);
  writeFileSync(join(dir, 'ortnode.tar.xz'), sh('xz', ['-T2', '-9', '-c'], { input: tar }));
}
if (!readdirSync(dir).some((f) => f.startsWith('libvulkan1_'))) sh('apt-get', ['download', 'libvulkan1'], { cwd: dir });
for (const f of readdirSync(dir)) console.log(`.gpu/${f}\t${(statSync(join(dir, f)).size / 1e6).toFixed(1)} MB`);
const tracked = sh('git', ['-C', root, 'ls-files', '-z']).toString().split('\0').filter(Boolean).reduce((s, f) => s + (existsSync(join(root, f)) ? statSync(join(root, f)).size : 0), 0);
const carried = readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
console.log(`tracked files ${(tracked / 1e6).toFixed(1)} MB + .gpu ${(carried / 1e6).toFixed(1)} MB (limit 64 MiB = 67.1 MB, untracked files not ignored count too)`);
