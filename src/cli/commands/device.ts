// `--device cpu|webgpu|cuda|wasm` and `--dtype fp32|fp16|int8|q4` on every command that loads a model. Registered after the commands, it adds the
// option to each one that has `--model` and hands the choice to loadModel (src/cli/shared.ts) through
// CLIPMED_DEVICE, which also sets it for a whole shell session.
import type { Command } from 'commander';
import { parseDevice, parseDType } from '../../index.ts';

export const DEVICE_HELP = "where the model runs: cpu (default; onnxruntime-node), webgpu (onnxruntime-node's WebGPU provider; needs a GPU with a Vulkan, D3D12 or Metal driver), cuda (onnxruntime-node's CUDA provider, Linux x64; needs an NVIDIA GPU, CUDA 12 + cuDNN 9 and the provider libraries that onnxruntime-node's install script downloads with ONNXRUNTIME_NODE_INSTALL=cuda12) or wasm (onnxruntime-web); default $CLIPMED_DEVICE or cpu";

export const DTYPE_HELP = 'weights: fp32 (default), fp16 (half-size weights; on webgpu and cuda also half-precision arithmetic), int8 (int8 weights, activations quantised per call; about 2x faster on CPUs with VNNI) or q4 (4-bit weight blocks); quantised graphs are made once from the fp32 ones and cached; default $CLIPMED_DTYPE or fp32';

export function register(program: Command): void {
  for (const cmd of program.commands) {
    if (cmd.options.some((o) => o.long === '--model')) cmd.option('--device <name>', DEVICE_HELP).option('--dtype <type>', DTYPE_HELP);
  }
  program.hook('preAction', (_program, action) => {
    const device = action.opts().device as string | undefined;
    if (device !== undefined) process.env.CLIPMED_DEVICE = parseDevice(device);
    const dtype = action.opts().dtype as string | undefined;
    if (dtype !== undefined) process.env.CLIPMED_DTYPE = parseDType(dtype);
  });
}
