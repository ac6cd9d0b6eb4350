// `--device cpu|webgpu|wasm` on every command that loads a model. Registered after the commands, it adds the
// option to each one that has `--model` and hands the choice to loadModel (src/cli/shared.ts) through
// CLIPMED_DEVICE, which also sets it for a whole shell session.
import type { Command } from 'commander';
import { parseDevice } from '../../index.ts';

export const DEVICE_HELP = "where the model runs: cpu (default; onnxruntime-node), webgpu (onnxruntime-node's WebGPU provider, needs a GPU adapter) or wasm (onnxruntime-web); default $CLIPMED_DEVICE or cpu";

export function register(program: Command): void {
  for (const cmd of program.commands) {
    if (cmd.options.some((o) => o.long === '--model')) cmd.option('--device <name>', DEVICE_HELP);
  }
  program.hook('preAction', (_program, action) => {
    const device = action.opts().device as string | undefined;
    if (device !== undefined) process.env.CLIPMED_DEVICE = parseDevice(device);
  });
}
